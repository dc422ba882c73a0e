"""The HTML report (``--format html``): markup, escaping, masking and its page in a browser.

The tests marked ``browser`` open the report in headless Chromium (the system package,
driven by Playwright) and run as their own step of ``.ci/run`` (``pytest -m browser``).
Where Chromium or Playwright is missing they fail and say how to install it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import html5lib
import pytest

from reconcile.plan import FieldChange, Plan, Target, TicketChange, TicketCreate
from reconcile.render.html import render_html, render_report, report_data

from cli_runner import CliResult
from sandbox_api import edit_by_hand, field_ids

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
SECRET = "do-not-show-this-secret"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

MANIFEST = f"""\
tickets:
  - id: REQ-0501          # the declared value is hostile; a long one shows as a diff
    fields:
      location: {json.dumps(ATTRIBUTE)}
      resolution_notes: {json.dumps(SCRIPT + chr(10) + "second line of the notes")}
  - id: REQ-0506          # its live value is made hostile by hand
    fields:
      location: Lyon
  - id: REQ-0509
    fields:
      description: {SECRET}
      priority: High
    sensitive: [description]
  - id: REQ-9999          # no such ticket: an error row
    fields:
      priority: High
"""


def hostile_manifests(cli: Callable[..., CliResult], sandbox: Any) -> list[str]:
    """Manifests with a hostile declared value, a hostile live value (put there by hand,
    as a colleague in the web UI would), a sensitive value, an unknown ticket and an
    unchanged ticket (REQ-0513, imported as it is)."""
    ids = field_ids(sandbox, "REQ")
    edit_by_hand(sandbox, "REQ-0506", {ids["location"]: SCRIPT}, who=ATTRIBUTE)
    Path("changes.yaml").write_text(MANIFEST, encoding="utf-8")
    cli("import", "REQ-0513", "-o", "unchanged.yaml")
    return ["changes.yaml", "unchanged.yaml"]


def parse_strictly(page: str) -> None:
    """Parse with html5lib's strict WHATWG parser: any parse error raises."""
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)


# ---------------------------------------------------------------- markup, without a browser


def test_plan_page_is_valid_html_with_every_value_as_text(cli, sandbox):
    paths = hostile_manifests(cli, sandbox)
    page = cli("plan", *paths, "--format", "html", expect=1).stdout  # 1: REQ-9999 failed
    parse_strictly(page)
    assert page.startswith("<!DOCTYPE html>")
    assert SCRIPT not in page and ATTRIBUTE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert SECRET not in page
    assert page.count("<script>") == 1  # the page's own, nothing else


def test_drift_page_is_valid_and_names_the_editor_as_text(cli, sandbox):
    paths = hostile_manifests(cli, sandbox)
    page = cli("drift", *paths, "--format", "html", expect=1).stdout
    parse_strictly(page)
    assert "reconcile drift report" in page
    assert "last updated by &#34;&gt;&lt;img src=x onerror=alert(1)&gt; at " in page
    assert ATTRIBUTE not in page and SECRET not in page


def test_html_option_writes_the_same_run_beside_another_format(cli, sandbox):
    paths = hostile_manifests(cli, sandbox)
    result = cli("drift", *paths, "--format", "json", "--html", "drift.html", expect=1)
    drift = json.loads(result.stdout)
    page = Path("drift.html").read_text(encoding="utf-8")
    parse_strictly(page)
    assert f"<code>{drift_checksum(result.stdout)}</code>" in page
    failed = cli("plan", *paths, "--html", "no/such/dir/plan.html", expect=1)
    assert failed.stderr.strip().splitlines()[-1] == (
        "Error: no/such/dir/plan.html: cannot write the HTML report: No such file or directory"
    )
    assert drift["summary"]["update"] == 3


def drift_checksum(json_text: str) -> str:
    return "sha256:" + hashlib.sha256(json_text.encode()).hexdigest()


def test_the_policy_allows_exactly_the_inline_style_and_script():
    page = _render(_plan())
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy is not None
    directives = dict(
        d.strip().split(" ", 1) for d in policy.group(1).replace("&#39;", "'").split(";")
    )
    assert directives["default-src"] == "'none'"
    for tag, directive in (("style", "style-src"), ("script", "script-src")):
        body = re.search(f"<{tag}>(.*?)</{tag}>", page, re.S)
        assert body is not None
        digest = base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode()
        assert directives[directive] == f"'sha256-{digest}'"
    assert re.search(r"\b(src|href|action)=", page) is None  # nothing to load or submit


def test_target_shows_the_host_never_credentials_or_path():
    plan = _plan(target=Target("https://bot:hunter2@tickets.example.com:8443/api?x=1", "t-1", "r"))
    page = _render(plan)
    assert "<code>tickets.example.com:8443</code>" in page
    assert "hunter2" not in page and "/api" not in page


def test_control_characters_from_a_server_stay_visible_and_the_page_valid():
    change = TicketChange(
        id="REQ-0001",
        action="error",
        error="bad \x00 byte \x1b[31m \ufffe \x85",
    )
    page = _render(Plan(changes=(change,)))
    parse_strictly(page)
    assert "bad \\u0000 byte \\u001b[31m \\ufffe \\u0085" in page


def test_a_value_from_a_policy_names_it_as_the_text_plan_does():
    """The JSON plan's ``source`` shape; a value from the ticket entry needs no note."""
    data = report_data(_plan(), created_at=datetime(2026, 12, 1, tzinfo=timezone.utc))
    fields = data["changes"][0]["fields"]
    fields[0]["source"] = {
        "kind": "policy", "policy": "freeze-q4", "location": "manifests/policies.yaml:3"
    }  # fmt: skip
    fields[1]["source"] = {"kind": "ticket", "policy": None, "location": "manifests/m.yaml:7"}
    page = render_report(data)
    assert "from policy freeze-q4 at manifests/policies.yaml:3" in page
    assert "manifests/m.yaml:7" not in page
    assert '<time datetime="2026-12-01T00:00:00Z">2026-12-01 00:00:00 UTC</time>' in page


def test_a_create_is_a_row_of_its_own_among_the_changes():
    create = TicketCreate(
        key="onboarding-<alice>",
        type_id="t",
        type_prefix="REQ",
        type_name="Service Request",
        key_field="external_ref",
        team=None,
        fields=(FieldChange("f1", "summary", None, "Onboard Alice"),),
    )
    plan = replace(_plan(), creates=(create,), found_by_key=(("kiosk-7", "REQ-0510"),))
    page = _render(plan)
    parse_strictly(page)
    assert '<li class="count st-create"><span class="n">1</span> to create</li>' in page
    assert '<code class="id">REQ onboarding-&lt;alice&gt;</code>' in page
    assert 'data-statuses="create update"' in page  # the "changes" filter shows creates
    assert "REQ-0510 holds key &#39;kiosk-7&#39;; its id is not yet in the manifest" in page
    assert "to create" not in _render(_plan())  # only when there is one, as in the text plan


def test_report_data_is_the_json_plan_and_its_context():
    plan = _plan()
    data = report_data(plan, drift=True)
    assert {k: data[k] for k in plan.to_data()} == plan.to_data()
    assert data["kind"] == "drift"
    assert data["unchanged"] == ["REQ-0002"]
    assert data["plan_checksum"] == plan.checksum
    assert data["target"] == {"host": "127.0.0.1:8080", "tenant_id": "tenant", "realm": "demo"}


def _plan(target: Target | None = None) -> Plan:
    change = TicketChange(
        id="REQ-0001",
        action="update",
        etag="e1",
        fields=(
            FieldChange("f1", "priority", "Low", "High"),
            FieldChange("f2", "location", "a", "b"),
            FieldChange("f3", "notes", "x", "y", sensitive=True),
        ),
    )
    return Plan(
        changes=(change,),
        unchanged=("REQ-0002",),
        target=target or Target("http://127.0.0.1:8080", "tenant", "demo"),
    )


def _render(plan: Plan) -> str:
    out = io.StringIO()
    render_html(plan, out)
    return out.getvalue()


# ---------------------------------------------------------------- in headless Chromium


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Chromium from the OS packages; fails (never skips) when it cannot start."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright: pip install -e '.[browser]'", pytrace=False)
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Error as error:
            pytest.fail(f"cannot start {CHROMIUM}: {error}", pytrace=False)
        yield browser
        browser.close()


@dataclass
class Report:
    """An HTML report open in a fresh browser page, with what the page did while loaded."""

    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str]]:
        """(ticket ID, status) of every row the page shows, top to bottom."""
        return [
            tuple(row)
            for row in self.page.eval_on_selector_all(
                "#tickets .chunk > li",
                "rows => rows.filter(r => r.checkVisibility())"
                ".map(r => [r.querySelector('.id').textContent, r.dataset.status])",
            )
        ]

    def ids(self) -> list[str]:
        return [ticket_id for ticket_id, _ in self.rows()]

    def row(self, ticket_id: str) -> Any:
        return self.page.locator("#tickets .chunk > li").filter(
            has=self.page.locator("code.id", has_text=re.compile(f"^{ticket_id}$"))
        )

    def open(self, ticket_id: str) -> list[list[str]]:
        """Open a row and return its field table: one list of cell texts per field."""
        row = self.row(ticket_id)
        row.locator("summary").click()
        row.locator("table.fields").wait_for()
        return row.locator("table.fields tbody tr").evaluate_all(
            "trs => trs.map(tr => Array.from(tr.children, c => c.textContent))"
        )


@pytest.fixture
def open_report(chromium: Any, tmp_path: Path) -> Iterator[Callable[..., Report]]:
    """Write a page to a file and open it from its ``file://`` URL in a new context."""
    contexts: list[Any] = []

    def open_page(page_html: str, **options: Any) -> Report:
        path = tmp_path / f"report-{len(contexts)}.html"
        path.write_text(page_html, encoding="utf-8")
        context = chromium.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        report = Report(page, path.as_uri())
        page.on("console", lambda m: m.type == "error" and report.problems.append(m.text))
        page.on("pageerror", lambda e: report.problems.append(f"page error: {e}"))
        page.on("dialog", lambda d: (report.problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("request", lambda r: r.url != report.url and report.requests.append(r.url))
        page.goto(report.url, wait_until="load")
        return report

    yield open_page
    for context in contexts:
        context.close()


@pytest.mark.browser
def test_plan_in_the_browser_matches_the_json_plan_and_runs_nothing_hostile(
    cli, sandbox, open_report
):
    paths = hostile_manifests(cli, sandbox)
    plan = json.loads(cli("plan", *paths, "--format", "json", expect=1).stdout)
    report = open_report(cli("plan", *paths, "--format", "html", expect=1).stdout)
    page = report.page

    counts = page.eval_on_selector_all(
        ".counts .count", "cs => cs.map(c => [c.classList[1], c.querySelector('.n').textContent])"
    )
    shown = {k: n for k, n in plan["summary"].items() if n or k != "create"}  # as text does
    assert {status[3:]: int(n) for status, n in counts} == shown
    changed = [(c["id"], c["action"]) for c in plan["changes"]]
    rows = report.rows()
    assert [r for r in rows if r[1] != "unchanged"] == changed
    assert [r for r in rows if r[1] == "unchanged"] == [("REQ-0513", "unchanged")]
    assert page.text_content("#shown") == f"Showing {len(rows)} of {len(rows)} tickets"

    # Expanding a row shows its fields, before and after, as the JSON plan has them.
    by_id = {c["id"]: c for c in plan["changes"]}
    assert report.open("REQ-0506") == [
        ["location", json.dumps(SCRIPT), '"Lyon"']  # before (live), after (declared)
    ]
    notes = report.open("REQ-0501")
    before = by_id["REQ-0501"]["fields"][0]["before"]
    assert notes[0] == ["location", json.dumps(before), json.dumps(ATTRIBUTE)]
    assert notes[1][0] == "resolution_notes"
    assert f"+{SCRIPT}\n+second line of the notes\n" in notes[1][1]
    assert report.open("REQ-0509") == [
        [f["name"], "(sensitive)" if f["sensitive"] else json.dumps(f["before"]),
         "(sensitive)" if f["sensitive"] else json.dumps(f["after"])]
        for f in by_id["REQ-0509"]["fields"]
    ]  # fmt: skip
    assert "Ticket not found" in report.row("REQ-9999").text_content()

    # Hostile values are text: no element, no script, no request came of them.
    assert page.eval_on_selector_all("img", "els => els.length") == 0
    assert page.eval_on_selector_all("script", "els => els.length") == 1
    assert page.locator("text=" + SCRIPT).count() >= 1
    assert report.problems == []
    assert report.requests == []
    assert SECRET not in page.content()


@pytest.mark.browser
def test_filters_and_search_show_exactly_the_rows_they_should(cli, sandbox, open_report):
    paths = hostile_manifests(cli, sandbox)
    report = open_report(cli("plan", *paths, "--format", "html", expect=1).stdout)
    page = report.page
    everything = ["REQ-0501", "REQ-0506", "REQ-0509", "REQ-0513", "REQ-9999"]
    assert report.ids() == everything

    # Keyboard: the filters are one radio group (arrow keys move and choose).
    page.focus("input[name=filter][value=all]")
    page.keyboard.press("ArrowRight")
    assert report.rows() == [
        ("REQ-0501", "update"),
        ("REQ-0506", "update"),
        ("REQ-0509", "update"),
    ]
    page.keyboard.press("ArrowRight")
    assert report.rows() == [("REQ-9999", "error")]
    page.keyboard.press("ArrowRight")  # wraps around to All
    assert report.ids() == everything

    # "/" focuses the search; it narrows by field name and by ticket ID, all terms at once.
    page.keyboard.press("/")
    page.keyboard.type("location")
    assert report.ids() == ["REQ-0501", "REQ-0506"]
    page.fill("#search", "req-0506 LOCATION")
    assert report.ids() == ["REQ-0506"]
    page.fill("#search", "0509")
    assert report.ids() == ["REQ-0509"]
    page.fill("#search", "no such thing")
    assert report.ids() == []
    assert page.is_visible("#none")
    page.focus("#search")
    page.keyboard.press("Escape")
    assert report.ids() == everything

    # Search and filter combine.
    page.check("input[name=filter][value=changes]", force=True)
    page.fill("#search", "priority")
    assert report.ids() == ["REQ-0509"]
    assert page.text_content("#shown") == "Showing 1 of 5 tickets"

    # Expand all opens every shown row, and only those.
    page.click("#expand")
    opened = page.eval_on_selector_all("details[open]", "ds => ds.length")
    assert opened == 1
    assert page.is_visible("#tickets table.fields")
    assert report.problems == [] and report.requests == []


@pytest.mark.browser
def test_drift_in_the_browser_names_the_editor_and_filters_drifted(cli, sandbox, open_report):
    paths = hostile_manifests(cli, sandbox)
    drift = json.loads(cli("drift", *paths, "--format", "json", expect=1).stdout)
    report = open_report(cli("drift", *paths, "--format", "html", expect=1).stdout)
    page = report.page
    assert page.text_content("h1") == "reconcile drift report"
    labels = page.eval_on_selector_all("input[name=filter]", "rs => rs.map(r => r.value)")
    assert labels == ["all", "drifted", "errors"]
    page.check("input[name=filter][value=drifted]", force=True)
    assert report.rows() == [
        (c["id"], c["action"]) for c in drift["changes"] if c["action"] == "update"
    ]
    row = report.row("REQ-0506")
    assert f"last updated by {ATTRIBUTE} at " in row.locator(".editor").text_content()
    # Drift shows declared (git) first, then live: the same order as the text and Markdown.
    assert report.open("REQ-0506") == [["location", '"Lyon"', json.dumps(SCRIPT)]]
    headers = row.locator("thead th").all_text_contents()
    assert headers == ["field", "declared (git)", "live"]
    assert report.problems == [] and report.requests == []


@pytest.mark.browser
def test_the_page_cannot_reach_the_network(open_report):
    report = open_report(_render(_plan()))
    blocked = report.page.evaluate(
        """async () => {
            const violations = [];
            document.addEventListener(
                "securitypolicyviolation", e => violations.push(e.violatedDirective));
            try { await fetch("http://127.0.0.1:9/"); return ["fetched"]; }
            catch (error) { await new Promise(r => setTimeout(r, 50)); return violations; }
        }"""
    )
    assert blocked == ["connect-src"]
    assert report.requests == []


@pytest.mark.browser
def test_print_and_dark_mode(open_report):
    report = open_report(_render(_plan()), color_scheme="dark")
    page = report.page
    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(13, 17, 23)"
    page.emulate_media(media="print")
    assert not page.is_visible("#controls")
    assert page.evaluate("getComputedStyle(document.documentElement).backgroundColor") == (
        "rgb(255, 255, 255)"
    )
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.is_visible("#tickets table.fields")
    page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    assert page.eval_on_selector_all("details[open]", "ds => ds.length") == 0
    assert report.problems == []


@pytest.mark.browser
def test_filters_and_search_work_across_chunks_of_a_large_plan(open_report):
    """600 rows are three chunks of the list: filtering and search see all of them."""
    summary = (FieldChange("f", "summary", "a", "b"),)
    changes = [
        TicketChange(id=f"REQ-{n:04d}", action="update", etag="e", fields=summary)
        if n % 100
        else TicketChange(id=f"REQ-{n:04d}", action="error", error="not found")
        for n in range(50, 601, 50)
    ]
    unchanged = tuple(f"REQ-{n:04d}" for n in range(1, 601) if n % 50)
    page_html = _render(Plan(changes=tuple(changes), unchanged=unchanged))
    assert page_html.count('<ul class="chunk">') == 3
    report = open_report(page_html)
    assert len(report.rows()) == 600
    report.page.check("input[name=filter][value=errors]", force=True)
    assert report.ids() == [f"REQ-{n:04d}" for n in range(100, 601, 100)]
    report.page.check("input[name=filter][value=changes]", force=True)
    report.page.fill("#search", "req-05")
    assert report.ids() == ["REQ-0550"]
    assert report.problems == [] and report.requests == []
