"""Renderers: exact text, JSON and Markdown output, masking, truncation, annotations."""

from __future__ import annotations

import io
import json
import re

import pytest

from reconcile.errors import Problem
from reconcile.plan import FieldChange, Plan, RequestBudget, TicketChange
from reconcile.render import github_annotations, render_json, render_markdown, render_text
from reconcile.render.safe import escape_invisible

SECRET = "hunter2-secret"


def sample_plan(**kw: object) -> Plan:
    return Plan(
        changes=(
            TicketChange("REQ-9999", "error", error="Ticket not found (REQ-9999)"),
            TicketChange(
                "REQ-0510",
                "update",
                etag="e-510",
                fields=(
                    FieldChange("f-sel", "priority", "Low", "High", protected=True),
                    FieldChange("f-key", "api_key", "old-" + SECRET, SECRET, sensitive=True),
                    FieldChange(
                        "f-desc",
                        "description",
                        "<p>line one</p>\nold | line",
                        "<p>line one</p>\nnew | line",
                    ),
                    FieldChange("f-tags", "tags", [], ["q4", "a|b"]),
                    FieldChange("f-num", "cost", None, 3),
                ),
                last_updated_by="jdoe",
                last_updated_at="2026-11-20T16:01:09Z",
            ),
        ),
        unchanged=("REQ-0001", "REQ-0002"),
        **kw,  # type: ignore[arg-type]
    )


def text(plan: Plan, **kw: object) -> str:
    out = io.StringIO()
    render_text(plan, out, **kw)  # type: ignore[arg-type]
    return out.getvalue()


def markdown(plan: Plan, **kw: object) -> str:
    out = io.StringIO()
    render_markdown(plan, out, **kw)  # type: ignore[arg-type]
    return out.getvalue()


def test_text_plan_reads_like_terraform() -> None:
    assert text(sample_plan()).splitlines() == [
        "~ REQ-0510",
        '    ~ priority: "Low" → "High" (protected)',
        "    ~ api_key: (sensitive)",
        "    ~ description:",
        "        --- before",
        "        +++ after",
        "        @@ -1,2 +1,2 @@",
        "         <p>line one</p>",
        "        -old | line",
        "        +new | line",
        '    ~ tags: [] → ["q4", "a|b"]',
        "    ~ cost: null → 3",
        "",
        "! REQ-9999: Ticket not found (REQ-9999)",
        "",
        "Plan: 1 to update, 2 unchanged, 1 failed.",
    ]


def test_text_long_single_line_is_a_diff_and_short_text_is_quoted() -> None:
    long_before, long_after = "x" * 81, "y" * 81
    plan = Plan(
        changes=(
            TicketChange(
                "REQ-0001",
                "update",
                etag="e",
                fields=(
                    FieldChange("a", "summary", "old", 'say "hi"'),
                    FieldChange("b", "body", long_before, long_after),
                ),
            ),
        )
    )
    assert text(plan).splitlines()[1:7] == [
        '    ~ summary: "old" → "say \\"hi\\""',
        "    ~ body:",
        "        --- before",
        "        +++ after",
        "        @@ -1 +1 @@",
        "        -" + long_before,
    ]


def test_text_without_changes_and_the_summary_without_failures() -> None:
    assert text(Plan(changes=(), unchanged=("REQ-0001",))) == (
        "No changes. Live tickets match the manifests.\n"
    )
    one = Plan(changes=(TicketChange("REQ-0001", "update", "e", (FieldChange("a", "n", 1, 2),)),))
    assert text(one).splitlines()[-1] == "Plan: 1 to update, 0 unchanged."


def test_text_drift_report_names_declared_live_and_the_last_editor() -> None:
    lines = text(sample_plan(), drift=True).splitlines()
    assert lines[:3] == [
        "~ REQ-0510 (last updated by jdoe at 2026-11-20T16:01:09Z)",
        '    ~ priority: declared "High", live "Low"',
        "    ~ api_key: (sensitive)",
    ]
    assert "        --- live" in lines and "        +++ declared" in lines
    assert lines[-2:] == [
        "Drift: 1 drifted, 2 in sync, 1 failed.",
        "The API keeps no per-field history, so the last editor shown is the ticket's "
        "last editor, not necessarily who changed these fields.",
    ]
    in_sync = text(Plan(changes=(), unchanged=("REQ-0001",)), drift=True)
    assert in_sync == "Drift: 0 drifted, 1 in sync.\n"


def test_text_shows_schema_drift_first_and_the_request_budget_last() -> None:
    lines = text(
        sample_plan(schema_drift=("field 'cost' was removed",)), budget=RequestBudget(4, 1, 2)
    ).splitlines()
    assert lines[:3] == ["Schema drift:", "  ! field 'cost' was removed", ""]
    assert lines[-1] == "Request budget: 4 reads, 1 writes; at 2 requests/s about 2 s."


def test_colour_only_when_asked() -> None:
    assert "\x1b[" not in text(sample_plan())
    coloured = text(sample_plan(), color=True)
    assert "\x1b[33m~\x1b[0m REQ-0510" in coloured
    assert "\x1b[31m! REQ-9999: Ticket not found (REQ-9999)\x1b[0m" in coloured
    assert "\x1b[32m+new | line\x1b[0m" in coloured


def test_control_characters_in_long_values_cannot_drive_the_terminal() -> None:
    change = FieldChange("a", "body", "x\n\x1b[2Jclear", "x\ny")
    plan = Plan(changes=(TicketChange("REQ-0001", "update", "e", (change,)),))
    output = text(plan)
    assert "\x1b" not in output
    assert "-\\u001b[2Jclear" in output


def test_sensitive_values_are_masked_in_every_format() -> None:
    plan = sample_plan()
    data = json.loads(_json(plan))
    assert SECRET not in text(plan) and SECRET not in text(plan, drift=True)
    assert SECRET not in markdown(plan) and SECRET not in markdown(plan, drift=True)
    assert SECRET not in _json(plan)
    change = data["changes"][0]
    assert change["patch"]["ticketUpdate"]["f-key"] == "(sensitive)"
    assert change["fields"][1]["before"] == change["fields"][1]["after"] == "(sensitive)"


def _json(plan: Plan) -> str:
    out = io.StringIO()
    render_json(plan, out)
    return out.getvalue()


def test_json_is_sorted_indented_and_matches_the_checksum() -> None:
    plan = sample_plan()
    output = _json(plan)
    assert output.startswith('{\n  "changes": [\n')
    assert json.loads(output)["summary"] == {"create": 0, "update": 1, "unchanged": 2, "error": 1}
    assert output == json.dumps(plan.to_data(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_markdown_plan_has_a_summary_a_table_and_details_for_long_values() -> None:
    assert markdown(sample_plan()) == "\n".join(
        [
            "**Plan:** 1 to update, 2 unchanged, 1 failed.",
            "",
            "#### ~ `REQ-0510`",
            "",
            "| field | before | after |",
            "|---|---|---|",
            '| priority (protected) | `"Low"` | `"High"` |',
            "| api\\_key | (sensitive) | (sensitive) |",
            '| tags | `[]` | `["q4", "a\\|b"]` |',
            "| cost | `null` | `3` |",
            "",
            "<details><summary><code>description</code>: long value, shown as a diff</summary>",
            "",
            "```diff",
            "--- before",
            "+++ after",
            "@@ -1,2 +1,2 @@",
            " <p>line one</p>",
            "-old | line",
            "+new | line",
            "```",
            "",
            "</details>",
            "",
            "#### ! `REQ-9999`",
            "",
            "**Error:** `Ticket not found (REQ-9999)`",
            "",
            "",
        ]
    )


def test_markdown_drift_report_and_no_changes() -> None:
    report = markdown(sample_plan(), drift=True)
    assert report.startswith("**Drift:** 1 drifted, 2 in sync, 1 failed.\n")
    assert "Last updated by `jdoe` at `2026-11-20T16:01:09Z`.\n" in report
    assert "| field | declared | live |\n" in report
    assert '| priority | `"High"` | `"Low"` |\n' in report
    assert report.endswith("not necessarily who changed these fields._\n")
    assert markdown(Plan(changes=())) == "**No changes.** Live tickets match the manifests.\n\n"


def test_markdown_escapes_backticks_pipes_and_newlines_in_cells_and_errors() -> None:
    fields = (FieldChange("a", "n|x", "`a`", "b"), FieldChange("c", "body", "", "b\nc"))
    plan = Plan(
        changes=(
            TicketChange("REQ-0001", "update", "e", fields),
            TicketChange("REQ-0002", "error", error="bad `thing`\nhere"),
        )
    )
    output = markdown(plan)
    assert '| n\\|x | ``"`a`"`` | `"b"` |\n' in output
    assert "<details><summary><code>body</code>" in output
    assert "**Error:** ``bad `thing` here``" in output


def test_markdown_is_truncated_under_the_limit_with_a_count_and_the_checksum() -> None:
    changes = tuple(
        TicketChange(f"REQ-{n:04d}", "update", "e", (FieldChange("a", "cost", n, n + 1),))
        for n in range(1, 201)
    )
    plan = Plan(changes=changes)
    full = markdown(plan, limit=10**9)
    assert len(full) > 5000
    output = markdown(plan, limit=5000)
    assert len(output) <= 5000
    shown = len(re.findall(r"^#### ~ ", output, flags=re.MULTILINE))
    match = re.search(r"\*\*Truncated:\*\* (\d+) of 200 tickets are not shown", output)
    assert match is not None
    assert shown > 0 and shown + int(match.group(1)) == 200
    assert f"`{plan.checksum}`" in output
    assert output.startswith("**Plan:** 200 to update, 0 unchanged.")
    assert markdown(plan, limit=len(full)) == full


def test_github_annotations_escape_per_the_toolkit_rules() -> None:
    problems = [
        Problem("m/a,b:c.yaml:3", "bad value 100%\r\nnext", path="m/a,b:c.yaml", line=3),
        Problem("REQ-0509 priority", "not an option"),
        Problem("m/x.yaml", "empty file", path="m/x.yaml"),
    ]
    assert github_annotations(problems) == [
        "::error file=m/a%2Cb%3Ac.yaml,line=3::bad value 100%25%0D%0Anext",
        "::error::REQ-0509 priority: not an option",
        "::error file=m/x.yaml::empty file",
    ]


@pytest.mark.parametrize("line_end", ["\n", "\t", "\u00a0"])
def test_an_invisible_character_is_escaped_in_text_of_many_lines(line_end: str) -> None:
    # Newline and tab stay (and a no-break space is shown): the escape is not skipped for them.
    text = f"REQ-0001{line_end}summary: \x1b[2Jgone\u202e{line_end}"
    assert escape_invisible(text) == f"REQ-0001{line_end}summary: \\u001b[2Jgone\\u202e{line_end}"
    assert escape_invisible(f"plain{line_end}text{line_end}") == f"plain{line_end}text{line_end}"
