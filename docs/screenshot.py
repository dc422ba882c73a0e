"""Take docs/html-report.png: the demo's plan as an HTML report, in headless Chromium.

    .venv/bin/python docs/screenshot.py

Plans the repository's ``manifests/`` against an in-process demo sandbox (the plan
``reconcile demo`` starts with), renders it with ``render_html`` and screenshots the
page with three rows opened: a long text shown as a diff, a list with what changed
inside it, and a masked sensitive value.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from reconcile.config import load_settings
from reconcile.manager import Manager
from reconcile.render.html import render_html
from reconcile.sandbox import Sandbox, SandboxOptions

ROOT = Path(__file__).resolve().parent.parent
OPEN = ("CTC-0050", "REQ-0502", "REQ-0509")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def main() -> int:
    with Sandbox(SandboxOptions(port=0, demo=True)) as sandbox:
        env = {
            "RECONCILE_BASE_URL": sandbox.base_url,
            "RECONCILE_TENANT_ID": sandbox.tenant_id,
            "RECONCILE_REALM": sandbox.realm,
            "RECONCILE_TOKEN": sandbox.token(),
            "RECONCILE_KEY_FIELD": "external_ref",  # as the quick start exports it
        }
        settings = load_settings({}, env=env)
        with Manager.open(settings, write=False, env=env) as manager:
            plan = manager.plan(manager.load([str(ROOT / "manifests")]))
    page_html = io.StringIO()
    render_html(plan, page_html)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "plan.html"
        path.write_text(page_html.getvalue(), encoding="utf-8")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(path.as_uri())
            for ticket_id in OPEN:
                row = page.locator("#tickets li").filter(has_text=ticket_id)
                row.locator("summary").click()
                row.locator("table.fields").wait_for()
            page.evaluate("window.scrollTo(0, 0)")  # the sticky controls back at the top
            out = ROOT / "docs" / "html-report.png"
            page.screenshot(path=str(out), full_page=True)
            browser.close()
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
