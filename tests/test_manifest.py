"""Tests of reconcile.manifest: reading YAML manifests and resolving them against a schema.

The bad-input corpus lives in tests/manifests/ (see its README): each bad file names the
message fragment and line it must produce in its first two lines, so the table-driven
tests below need no per-file code.
"""

from __future__ import annotations

import math
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconcile.errors import ManifestError, Problem
from reconcile.manifest import (
    MAX_DEPTH,
    DeclaredTicket,
    Location,
    find_manifest_files,
    load_manifest_set,
    load_manifests,
    parse_manifest,
    resolve_all,
    resolve_tickets,
)
from reconcile.plan import ticket_sort_key
from reconcile.sandbox.store import DISPLAY_ID as SANDBOX_DISPLAY_ID
from reconcile.schema import Schema
from reconcile.ticket import display_id_prefix

CORPUS = Path(__file__).parent / "manifests"
DESCRIPTION = "459cf0c6-ae1c-4ba2-8116-3b8b38207528"
DUE_DATE = "8d0f5c1e-6a57-4c0e-9d3b-2f1e7c9a4b10"
SUMMARY = "a0000000-0000-4000-8000-000000000001"
PRIORITY = "a0000000-0000-4000-8000-000000000003"
TAGS = "a0000000-0000-4000-8000-000000000004"
HOURS = "a0000000-0000-4000-8000-000000000007"
APPROVED = "a0000000-0000-4000-8000-000000000008"
WATCHERS = "a0000000-0000-4000-8000-00000000000a"
LOCATION = "a0000000-0000-4000-8000-00000000000b"


def _field(id_: str, name: str, label: str, type_: str, **extra: object) -> dict[str, object]:
    return {"id": id_, "name": name, "label": label, "type": type_, **extra}


# Every field type of the contract; names and labels as in the demo sandbox's REQ and CTC.
SCHEMA = Schema.from_api(
    {
        "data": [
            {
                "id": "6f1f4c3e-0000-4000-8000-000000000001",
                "name": "Service Request",
                "prefix": "REQ",
                "fields": [
                    _field(SUMMARY, "summary", "Summary", "text", required=True),
                    _field(DESCRIPTION, "description", "Description", "richtext"),
                    _field(
                        PRIORITY,
                        "priority",
                        "Priority",
                        "select",
                        options=["Low", "Medium", "High", "Critical"],
                        required=True,
                    ),
                    _field(
                        TAGS,
                        "tags",
                        "Tags",
                        "multiselect",
                        options=["freeze", "q4", "vip", "security"],
                    ),
                    _field(DUE_DATE, "due_date", "Due Date", "date"),
                    _field(
                        "a0000000-0000-4000-8000-000000000006",
                        "requested_at",
                        "Requested At",
                        "datetime",
                    ),
                    _field(HOURS, "estimated_hours", "Estimated Hours", "number"),
                    _field(APPROVED, "approved", "Approved", "boolean"),
                    _field(
                        "a0000000-0000-4000-8000-000000000009",
                        "requester",
                        "Requester",
                        "reference",
                        required=True,
                    ),
                    _field(WATCHERS, "watchers", "Watchers", "array"),
                    _field(LOCATION, "location", "Location", "text"),
                    _field(
                        "a0000000-0000-4000-8000-00000000000c",
                        "status",
                        "Status",
                        "select",
                        options=["New", "In Progress", "Resolved", "Closed"],
                    ),
                    _field(
                        "a0000000-0000-4000-8000-00000000000d",
                        "external_ref",
                        "External reference",
                        "text",
                    ),
                ],
            },
            {
                "id": "6f1f4c3e-0000-4000-8000-000000000002",
                "name": "Change",
                "prefix": "CTC",
                "fields": [
                    _field("c0000000-0000-4000-8000-000000000001", "title", "Title", "text"),
                    _field(
                        "c0000000-0000-4000-8000-000000000002",
                        "risk",
                        "Risk",
                        "select",
                        options=["Low", "Medium", "High"],
                        required=True,
                    ),
                ],
            },
        ]
    }
)


def problems_of(action: object) -> list[Problem]:
    """Run ``action`` (a no-argument callable), which must raise ManifestError; its problems."""
    with pytest.raises(ManifestError) as caught:
        action()  # type: ignore[operator]
    return caught.value.problems


def only_problem(action: object) -> Problem:
    problems = problems_of(action)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def load_and_resolve(paths: list[str | Path], key_field: str | None = None) -> list:
    manifests = load_manifest_set(paths)
    return resolve_all(manifests.tickets, manifests.policies, SCHEMA, key_field)[0]


def parse(text: str, path: str = "m.yaml") -> list[DeclaredTicket]:
    return parse_manifest(text, path)


def values(text: str) -> dict[str, object]:
    """The declared field values of the single ticket in ``text``."""
    [ticket] = parse(text)
    return {f.key: f.value for f in ticket.fields}


# --------------------------------------------------------------------------- the corpus


def _header(path: Path) -> tuple[str, int | None]:
    first, second = path.read_bytes().split(b"\n")[:2]
    expect = first.decode("latin-1").removeprefix("# expect: ")
    line = second.decode("latin-1").removeprefix("# line: ")
    return expect, None if line == "none" else int(line)


def _key_field(path: Path) -> str | None:
    """The optional third header line ``# key_field: FIELD`` (the setting the file needs)."""
    lines = path.read_bytes().split(b"\n")
    third = lines[2].decode("latin-1") if len(lines) > 2 else ""
    return third.removeprefix("# key_field: ") if third.startswith("# key_field: ") else None


BAD_FILES = sorted((CORPUS / "bad").glob("*.yaml"))
GOOD_FILES = sorted((CORPUS / "good").glob("*.y*ml"))
BAD_DIRS = sorted(p for p in (CORPUS / "bad-dirs").iterdir() if p.is_dir())


def test_the_corpus_has_at_least_30_bad_manifests() -> None:
    assert len(BAD_FILES) + len(BAD_DIRS) >= 30


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_manifest_gives_one_clear_problem(path: Path) -> None:
    expect, line = _header(path)
    relative = os.path.relpath(path)
    problem = only_problem(lambda: load_and_resolve([relative], _key_field(path)))
    assert expect in problem.message
    assert problem.path == relative
    assert problem.line == line
    where = relative if line is None else f"{relative}:{line}"
    assert str(problem) == f"{where}: {problem.message}"
    assert "\n" not in str(problem)


@pytest.mark.parametrize("path", GOOD_FILES, ids=lambda p: p.stem)
def test_good_manifest_resolves(path: Path) -> None:
    tickets = load_and_resolve([path])
    assert tickets
    assert all(t.values or t.id == "REQ-0505" for t in tickets)


def test_good_manifests_load_together_as_one_directory() -> None:
    tickets = load_and_resolve([CORPUS / "good"])
    ids = [t.id for t in tickets]
    assert len(ids) == len(set(ids)) >= 10


@pytest.mark.parametrize("directory", BAD_DIRS, ids=lambda p: p.name)
def test_bad_directory(directory: Path) -> None:
    spec = dict(line.split(": ", 1) for line in (directory / "expect.txt").read_text().splitlines())
    given = os.path.relpath(directory)
    problem = only_problem(lambda: load_and_resolve([given]))
    assert spec["expect"].format(dir=given) in problem.message
    where = given if spec["where"] == "." else str(Path(given) / spec["where"])
    assert problem.path == where
    assert problem.line == (None if spec["line"] == "none" else int(spec["line"]))


def test_readme_lists_every_scenario() -> None:
    readme = (CORPUS / "README.md").read_text()
    for path in [*BAD_FILES, *GOOD_FILES]:
        assert f"- `{path.name}`:" in readme
    for directory in BAD_DIRS:
        assert f"- `{directory.name}/`:" in readme


# --------------------------------------------------------------------------- finding files


def test_directory_search_is_recursive_sorted_and_skips_hidden_and_tool_files() -> None:
    tree = os.path.relpath(CORPUS / "tree")
    found = find_manifest_files([tree])
    assert found == [
        Path(tree, "a.yaml"),
        Path(tree, "sub", "c.yaml"),
        Path(tree, "sub", "deeper", "b.yml"),
    ]


def test_a_file_given_is_taken_whatever_its_name_and_each_file_once(tmp_path: Path) -> None:
    named = tmp_path / "tickets.txt"
    named.write_text("tickets: [{id: REQ-0501}]\n")
    (tmp_path / "a.yaml").write_text("tickets: [{id: REQ-0502}]\n")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "a.yaml")
    found = find_manifest_files([named, named, tmp_path, tmp_path / "a.yaml"])
    assert found == [named, tmp_path / "a.yaml"]


def test_overlapping_paths_read_each_file_once(
    cli: Callable[..., Any], sandbox: Any, tmp_path: Path
) -> None:
    """``plan m/ m/network``: the directory inside is no "directory without manifests"."""
    (tmp_path / "m" / "network").mkdir(parents=True)
    (tmp_path / "m" / "a.yaml").write_text(
        "tickets:\n  - id: REQ-0501\n    fields:\n      priority: Critical\n"
    )
    (tmp_path / "m" / "network" / "b.yaml").write_text(
        "tickets:\n  - id: REQ-0509\n    fields:\n      priority: Critical\n"
    )
    for paths in (["m/", "m/network"], ["m/network", "m"], ["m/network/b.yaml", "m/"]):
        result = cli("plan", *paths)
        assert "Plan: 2 to update, 0 unchanged." in result.stdout, paths
        assert result.stdout.count("~ REQ-0509") == 1
    assert find_manifest_files(["m/", "m/network"]) == [Path("m/a.yaml"), Path("m/network/b.yaml")]


def test_missing_path_and_broken_symlink_are_errors(tmp_path: Path) -> None:
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "never-there.yaml")
    (tmp_path / "ok.yaml").write_text("tickets: []\n")
    problems = problems_of(lambda: find_manifest_files([tmp_path / "nope", tmp_path]))
    messages = {p.path: p.message for p in problems}
    assert messages[str(tmp_path / "nope")] == "no such file or directory"
    assert messages[str(tmp_path / "gone.yaml")].startswith("broken symlink: its target ")


def test_symlink_loops_are_errors_not_hangs(tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    (manifests / "sub").mkdir(parents=True)
    (manifests / "a.yaml").write_text("tickets: [{id: REQ-0501}]\n")
    (manifests / "sub" / "back").symlink_to(manifests, target_is_directory=True)
    (manifests / "self.yaml").symlink_to(manifests / "self.yaml")
    problems = problems_of(lambda: load_manifests([manifests]))
    assert [(p.path, p.message) for p in problems] == [
        (str(manifests / "self.yaml"), "symlink loop: the link never reaches a file"),
        (str(manifests / "sub" / "back"), "symlink loop: points back to a directory above it"),
    ]


def test_a_directory_symlink_that_is_no_loop_is_followed(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "b.yaml").write_text("tickets: [{id: REQ-0502}]\n")
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "shared").symlink_to(tmp_path / "shared")
    assert [t.id for t in load_manifests([tmp_path / "manifests"])] == ["REQ-0502"]


def test_paths_stay_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("m").mkdir()
    Path("m/x.yaml").write_text("tickets:\n  - id: REQ-1\n")
    problem = only_problem(lambda: load_manifests(["m"]))
    assert str(problem).startswith(f"{Path('m', 'x.yaml')}:2: malformed ticket id 'REQ-1'")


# --------------------------------------------------------------------------- every problem at once


def test_problems_of_every_file_are_collected_before_raising(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("tickets:\n  - id: REQ-0501\n    feilds: {}\n")
    (tmp_path / "b.yaml").write_text("tickets:\n  - id: REQ-0501\n  - id: REQ-12\n")
    (tmp_path / "c.yaml").write_bytes(b"tickets: [\xff]\n")
    problems = problems_of(lambda: load_manifests([tmp_path]))
    assert [(Path(p.path or "").name, p.line, p.message.split(" (")[0]) for p in problems] == [
        ("a.yaml", 3, "unknown key 'feilds' in ticket"),
        ("b.yaml", 2, f"ticket REQ-0501 is declared twice: here and at {tmp_path}/a.yaml:2"),
        ("b.yaml", 3, "malformed ticket id 'REQ-12': expected a display ID such as REQ-0509"),
        ("c.yaml", 1, "not valid UTF-8: byte 0xff at offset 10; save the file as UTF-8"),
    ]


def test_resolve_collects_problems_of_every_ticket() -> None:
    declared = parse(
        "tickets:\n"
        "  - id: REQ-0501\n"
        "    fields: {prority: High, approved: yes}\n"
        "  - id: ABC-0001\n"
        "  - id: CTC-0050\n"
        "    fields: {risk: null}\n"
    )
    problems = problems_of(lambda: resolve_tickets(declared, SCHEMA))
    assert [str(p) for p in problems] == [
        "m.yaml:3: REQ-0501 field 'approved': expects true or false, got a string 'yes'",
        "m.yaml:3: REQ-0501: unknown field 'prority' (did you mean 'priority'?)",
        "m.yaml:4: ABC-0001: unknown ticket type prefix 'ABC' (known prefixes: CTC, REQ)",
        "m.yaml:6: CTC-0050 field 'risk': is required and cannot be cleared",
    ]


# --------------------------------------------------------------------------- YAML 1.2 scalars


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("no", "no"),
        ("yes", "yes"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("N", "N"),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("FALSE", False),
        ("tRue", "tRue"),
        ("null", None),
        ("~", None),
        ("", None),
        ("NULL", None),
        ("42", 42),
        ("-7", -7),
        ("+3", 3),
        ("0", 0),
        ("0o17", 15),
        ("0x1F", 31),
        ("0X1F", "0X1F"),
        ("0777", "0777"),
        ("1_000", "1_000"),
        ("12:30", "12:30"),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("-1.5E-2", -0.015),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("2026-12-24", "2026-12-24"),
        ("2026-12-24T10:00:00Z", "2026-12-24T10:00:00Z"),
        ("2026-12-24 10:00:00", "2026-12-24 10:00:00"),
        ("'true'", "true"),
        ('"42"', "42"),
        ("!!str 42", "42"),
        ("!!float 3", 3.0),
        ("!!int 0x10", 16),
        ("! 42", "42"),
        ("=", "="),
        ("1" * 5000, "1" * 5000),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(written: str, value: object) -> None:
    got = values(f"tickets:\n  - id: REQ-0501\n    fields:\n      x: {written}\n")["x"]
    assert got == value
    assert type(got) is type(value)


def test_nan_is_a_float() -> None:
    got = values("tickets: [{id: REQ-0501, fields: {x: .NaN}}]")["x"]
    assert isinstance(got, float) and math.isnan(got)


def test_nested_values_are_plain_python() -> None:
    got = values("tickets: [{id: REQ-0501, fields: {x: {a: [1, {b: no}], 2: ~}}}]")["x"]
    assert got == {"a": [1, {"b": "no"}], "2": None}
    assert type(got) is dict and type(got["a"]) is list


def test_an_alias_gives_each_use_its_own_copy() -> None:
    [first, second] = parse(
        "tickets:\n"
        "  - {id: REQ-0501, fields: {watchers: &w [a, b]}}\n"
        "  - {id: REQ-0502, fields: {watchers: *w}}\n"
    )
    assert first.fields[0].value == second.fields[0].value == ["a", "b"]
    assert first.fields[0].value is not second.fields[0].value


# --------------------------------------------------------------------------- structure and lines


EXAMPLE = """\
# manifests/network/freeze.yaml
defaults:
  fields:
    priority: High
sensitive: [description]
protected: [priority]
tickets:
  - id: REQ-0509
    fields:
      description: "<p>Updated description text.</p>"
      Tags: [freeze, q4]
      8d0f5c1e-6a57-4c0e-9d3b-2f1e7c9a4b10: 2026-12-24
    sensitive: [Tags]
  - id: REQ-0510
    fields:
      priority: Low
"""


def test_declared_tickets_keep_keys_values_and_lines() -> None:
    first, second = parse(EXAMPLE, "net/freeze.yaml")
    assert first.id == "REQ-0509"
    assert str(first.location) == "net/freeze.yaml:8"
    assert [(f.key, f.value, f.location.line, f.default) for f in first.fields] == [
        ("priority", "High", 4, True),
        ("description", "<p>Updated description text.</p>", 10, False),
        ("Tags", ["freeze", "q4"], 11, False),
        (DUE_DATE, "2026-12-24", 12, False),
    ]
    assert first.sensitive == {"description", "Tags"}
    assert first.protected == {"priority"}
    assert first.sensitive_locations["Tags"] == Location("net/freeze.yaml", 13)
    assert [(f.key, f.value, f.default) for f in second.fields] == [("priority", "Low", False)]
    assert second.sensitive == {"description"}


def test_resolved_tickets_are_keyed_by_field_uuid() -> None:
    first, second = resolve_tickets(parse(EXAMPLE, "net/freeze.yaml"), SCHEMA)
    assert first.type.prefix == "REQ"
    assert first.values == {
        PRIORITY: "High",
        DESCRIPTION: "<p>Updated description text.</p>",
        TAGS: ["freeze", "q4"],
        DUE_DATE: "2026-12-24",
    }
    assert first.locations[TAGS] == Location("net/freeze.yaml", 11)
    assert first.locations[PRIORITY] == Location("net/freeze.yaml", 4)
    assert first.sensitive == {DESCRIPTION, TAGS}
    assert first.protected == {PRIORITY}
    assert second.values == {PRIORITY: "Low"}


def test_empty_forms_become_the_fields_own_empty_form() -> None:
    [ticket] = resolve_tickets(
        parse(
            "tickets:\n  - id: REQ-0501\n    fields:\n"
            "      description: null\n      tags: ''\n      due_date: []\n      location: ~\n"
        ),
        SCHEMA,
    )
    assert ticket.values == {DESCRIPTION: "", TAGS: [], DUE_DATE: None, LOCATION: ""}


def test_a_field_absent_from_the_manifest_is_not_managed() -> None:
    [ticket] = resolve_tickets(parse("tickets: [{id: REQ-0501, fields: {Approved: true}}]"), SCHEMA)
    assert ticket.values == {APPROVED: True}


def test_a_ticket_may_have_no_fields_and_ids_may_have_five_digits() -> None:
    [ticket] = resolve_tickets(parse("tickets:\n  - id: REQ-10000\n"), SCHEMA)
    assert (ticket.id, ticket.values) == ("REQ-10000", {})


def test_a_tickets_own_key_wins_over_a_default_spelled_differently() -> None:
    text = (
        "defaults: {fields: {Priority: High, approved: true}}\n"
        "tickets:\n  - id: REQ-0501\n    fields: {priority: Low}\n"
    )
    [ticket] = resolve_tickets(parse(text), SCHEMA)
    assert ticket.values == {PRIORITY: "Low", APPROVED: True}
    assert ticket.locations[PRIORITY].line == 4


def test_two_defaults_for_one_field_are_an_error_once_not_per_ticket() -> None:
    text = (
        "defaults: {fields: {Priority: High, priority: Low}}\n"
        "tickets: [{id: REQ-0501}, {id: REQ-0502}]\n"
    )
    problem = only_problem(lambda: resolve_tickets(parse(text), SCHEMA))
    assert problem.message.endswith("both set field 'priority'")


def test_merged_fields_of_several_documents_do_not_leak() -> None:
    text = (
        "defaults: {fields: {priority: High}}\ntickets: [{id: REQ-0501}]\n"
        "---\ntickets: [{id: REQ-0502}]\n"
    )
    first, second = parse(text)
    assert [f.key for f in first.fields] == ["priority"]
    assert second.fields == ()


def test_null_fields_and_lists_mean_none() -> None:
    [ticket] = parse("tickets:\n  - id: REQ-0501\n    fields:\n    sensitive:\n")
    assert (ticket.fields, ticket.sensitive) == ((), frozenset())


def test_a_problem_is_one_line_with_path_and_line() -> None:
    problem = only_problem(lambda: parse("tickets:\n  - id: REQ-0501\n    fields: {a: 1, a: 2}\n"))
    assert problem == Problem(
        location="m.yaml:3", message="duplicate key 'a' (first at line 3)", path="m.yaml", line=3
    )


def test_a_display_id_with_a_trailing_newline_is_malformed() -> None:
    problem = only_problem(lambda: parse('tickets:\n  - id: "REQ-0509\\n"\n'))
    assert problem.line == 2
    assert problem.message.startswith("malformed ticket id 'REQ-0509\\n'")
    assert display_id_prefix("REQ-0509\n") is None
    assert ticket_sort_key("REQ-0509\n") == ("REQ-0509\n", -1, "REQ-0509\n")
    assert SANDBOX_DISPLAY_ID.match("REQ-0509\n") is None


SECRET = "s3cr3t-Passw0rd!"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("requester", f"'{SECRET}'", "expects a UUID reference, got a string"),
        ("summary", f"[{SECRET}]", "expects a string, got a list"),
        ("priority", f"'{SECRET}'", "is not an option (options: Low, Medium, High, Critical)"),
        ("tags", f"[q4, '{SECRET}']", "is not an option (options: freeze, q4, vip, security)"),
        ("requested_at", f"'{SECRET}'", "expects an ISO 8601 date-time with an offset, got"),
    ],
)
def test_a_problem_never_shows_a_sensitive_value(field: str, value: str, reason: str) -> None:
    declared = parse(
        "tickets:\n  - id: REQ-0501\n"
        f"    fields: {{{field}: {value}}}\n"
        f"    sensitive: [{field.replace('_', ' ').title()}]\n"
    )
    problem = only_problem(lambda: resolve_tickets(declared, SCHEMA))
    assert reason in problem.message
    assert "(sensitive value not shown)" in problem.message
    assert "s3cr3t" not in problem.message
    # The same value in a field that is not sensitive is quoted, to help fix it.
    declared = parse(f"tickets:\n  - id: REQ-0501\n    fields: {{{field}: {value}}}\n")
    problem = only_problem(lambda: resolve_tickets(declared, SCHEMA))
    assert reason in problem.message
    assert "s3cr3t" in problem.message


# --------------------------------------------------------------------------- hostile input


def test_empty_and_whitespace_only_files_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_bytes(b"")
    (tmp_path / "blank.yaml").write_text("  \n\n\t\n")
    problems = problems_of(lambda: load_manifests([tmp_path]))
    assert [(Path(p.path or "").name, p.line, p.message) for p in problems] == [
        ("blank.yaml", None, "empty manifest: no YAML document in the file"),
        ("empty.yaml", None, "empty manifest: no YAML document in the file"),
    ]


def test_an_enormous_scalar_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge-scalar.yaml"
    path.write_text(
        "tickets:\n  - id: REQ-0501\n    fields:\n      summary: " + "x" * (1 << 20) + "y\n"
    )
    problem = only_problem(lambda: load_manifests([path]))
    assert (problem.line, problem.message) == (4, "a value longer than 1 MiB; refusing to read it")


def test_an_enormous_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# padding\n" * (600 * 1024))
    problem = only_problem(lambda: load_manifests([path]))
    assert (problem.path, problem.line) == (str(path), None)
    assert problem.message == "file is larger than 5 MiB; refusing to read it"
    problem = only_problem(lambda: parse("#" * (5 * 1024 * 1024 + 1)))
    assert problem.message == "file is larger than 5 MiB; refusing to read it"


def test_a_billion_laughs_is_refused_in_bounded_memory() -> None:
    lines = ['l0: &l0 "lol"']
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 10)]
    text = "\n".join(lines) + "\ntickets: []\n"
    tracemalloc.start()
    try:
        problem = only_problem(lambda: parse(text))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problem.line == 6
    assert problem.message.startswith("aliases expand to more than 100000 values")
    assert peak < 5 * 1024 * 1024


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    text = "tickets: [{id: REQ-0501, fields: {x: " + "[" * depth + "]" * depth + "}}]\n"
    problem = only_problem(lambda: parse(text))
    assert problem.line == 1
    assert "nesting" in problem.message


def test_nesting_up_to_the_limit_is_fine() -> None:
    depth = MAX_DEPTH - 4  # tickets, ticket, fields and the value's own list
    text = "tickets: [{id: REQ-0501, fields: {x: " + "[" * depth + "]" * depth + "}}]\n"
    assert parse(text)


def test_text_that_is_not_unicode_is_an_error_not_a_crash() -> None:
    problem = only_problem(
        lambda: parse("tickets:\n  - id: REQ-0501\n    fields: {summary: \ud800}\n")
    )
    assert problem.line == 3
    assert problem.message.startswith("character U+D800 is not")


def test_nul_in_text_is_a_binary_file() -> None:
    problem = only_problem(lambda: parse("tickets: []\n\x00"))
    assert (problem.line, problem.message) == (2, "binary file (NUL byte), not a YAML manifest")
