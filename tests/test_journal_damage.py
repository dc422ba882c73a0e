"""A damaged journal is refused with the file and line of the damage, before undo reads
any ticket: every shape check of :func:`reconcile.journal.read_journal`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconcile.errors import PlanError
from reconcile.journal import Journal, Status, read_journal
from reconcile.plan import Action, Target, TicketChange

FIELD = "d436c844-5f79-403c-8e79-bb3bb68e1a06"
RUN = {
    "journal_version": 2,
    "kind": "run",
    "run": "r1",
    "target": {"base_url": "http://127.0.0.1:1", "tenant_id": "t", "realm": "demo"},
}


def intent(**changes: Any) -> dict[str, Any]:
    entry = {
        "journal_version": 2,
        "kind": "intent",
        "run": "r1",
        "seq": 1,
        "action": "update",
        "ticket": "REQ-0509",
        "key": None,
        "etag_before": "e1",
        "fields": {FIELD: "summary"},
        "sensitive": [],
        "protected": [],
        "patch": [{"op": "replace", "path": f"/data/{FIELD}", "value": "new"}],
        "inverse": [{"op": "replace", "path": f"/data/{FIELD}", "value": "old"}],
    }
    entry.update(changes)
    return entry


def outcome(**changes: Any) -> dict[str, Any]:
    entry = {
        "journal_version": 2,
        "kind": "outcome",
        "run": "r1",
        "seq": 1,
        "ticket": "REQ-0509",
        "status": "updated",
        "etag_after": "e2",
        "message": None,
    }
    entry.update(changes)
    return entry


CASES = [
    (
        [{**RUN, "journal_version": 1}],
        1,
        "journal version 1, expected 2 (version 1 journals record no target and cannot be "
        "undone safely)",
    ),
    ([{**RUN, "journal_version": "2"}], 1, "journal version '2', expected 2"),
    ([{**RUN, "kind": "note"}], 1, "'kind' must be one of run, intent, outcome, not 'note'"),
    ([{**RUN, "run": ""}], 1, "'run' must be a non-empty string"),
    ([{**RUN, "target": "http://x"}], 1, "'target' must be an object"),
    ([{**RUN, "target": {"base_url": 1}}], 1, "'base_url' must be a string"),
    ([intent()], 1, "a journal record of run r1 without its run line"),
    ([RUN, intent(seq=True)], 2, "'seq' must be an integer"),
    ([RUN, intent(), intent()], 3, "a second intent 1 of run r1"),
    ([RUN, outcome()], 2, "an outcome of intent 1, which the journal lacks"),
    (
        [RUN, intent(), outcome(status="landed")],
        3,
        "'status' must be one of updated, created, etag_mismatch, failed, unknown, not 'landed'",
    ),
    ([RUN, intent(), outcome(etag_after=7)], 3, "'etag_after' must be a string or null"),
    ([RUN, intent(action="delete")], 2, "'action' must be one of update, create, not 'delete'"),
    ([RUN, intent(fields=[FIELD])], 2, "'fields' must be an object"),
    ([RUN, intent(sensitive=[1])], 2, "'sensitive' must be a list of strings"),
    ([RUN, intent(patch=[])], 2, "field 'summary' is missing from 'patch' or 'inverse'"),
    ([RUN, intent(ticket=None)], 2, "an update intent without 'ticket'"),
    ([RUN, intent(patch={"op": "replace"})], 2, "'patch' is not a JSON Patch"),
    ([RUN, intent(patch=[{"op": "jump", "path": "/data"}])], 2, "'patch' is not a JSON Patch"),
    (
        [RUN, intent(inverse=[{"op": "remove", "path": f"/data/{FIELD}"}])],
        2,
        f"'inverse' holds remove /data/{FIELD}, not a whole-field replace; this journal "
        "cannot be undone",
    ),
]


def write_journal(path: Path, entries: list[Any]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    return path


@pytest.mark.parametrize(("entries", "line", "message"), CASES)
def test_a_damaged_record_names_its_line(
    tmp_path: Path, entries: list[Any], line: int, message: str
) -> None:
    path = write_journal(tmp_path / "j.jsonl", entries)
    with pytest.raises(PlanError) as raised:
        read_journal(path)
    assert str(raised.value) == f"{path}:{line}: {message}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json\n", "not a journal line: Expecting property name enclosed in double quotes"),
        ("[1, 2]\n", "not a journal line: not a JSON object"),
        ("[" * 100 + "]" * 100 + "\n", "not a journal line: nested deeper than 64 levels"),
        ("[" * 100_000 + "]" * 100_000 + "\n", "not a journal line: nested deeper than 64 levels"),
    ],
)
def test_a_line_that_is_no_record(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text("\n" + text, encoding="utf-8")
    with pytest.raises(PlanError) as raised:
        read_journal(path)
    assert str(raised.value) == f"{path}:2: {message}"


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = write_journal(tmp_path / "j.jsonl", [RUN, intent()])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(outcome())[:30])  # the machine died mid-write
    journal = read_journal(path)
    [write] = journal.writes
    assert write.ticket == "REQ-0509" and write.status is None  # may have landed


def test_a_later_weaker_outcome_does_not_undo_a_landing(tmp_path: Path) -> None:
    path = write_journal(
        tmp_path / "j.jsonl", [RUN, intent(), outcome(), outcome(status="unknown", etag_after=None)]
    )
    [write] = read_journal(path).writes
    assert write.status == "updated" and write.etag_after == "e2"


def test_an_unreadable_journal(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as raised:
        read_journal(tmp_path)
    assert str(raised.value).startswith(f"{tmp_path}: cannot read the journal: ")
    path = tmp_path / "j.jsonl"
    path.write_bytes(b"\xff\xfe\n")
    with pytest.raises(PlanError, match=r"j\.jsonl: cannot read the journal: .*utf-8"):
        read_journal(path)


def test_a_journal_writes_nothing_before_its_run_line(tmp_path: Path) -> None:
    """A library caller must begin the run first: an intent or outcome without the run
    line could never be undone (undo reads the target from it)."""
    path = tmp_path / "j.jsonl"
    change = TicketChange(id="REQ-0509", action=Action.UPDATE, fields=())
    with Journal(path) as journal:
        with pytest.raises(RuntimeError, match="begin_run must be called before the first intent"):
            journal.intent(change, "e1")
        with pytest.raises(RuntimeError, match="begin_run must be called before the first outcome"):
            journal.outcome(1, "REQ-0509", Status.UPDATED)
        target = Target("http://127.0.0.1:1", "t", "demo")
        journal.begin_run(target)
        journal.begin_run(target)  # once per run: the second call writes nothing
    assert [json.loads(line)["kind"] for line in path.read_text().splitlines()] == ["run"]
