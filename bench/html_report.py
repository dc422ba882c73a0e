"""Benchmark: the HTML report of the 10,000-ticket plan, its size and its speed in Chromium.

    .venv/bin/python bench/html_report.py                  # N=10,000, 10 % changed
    .venv/bin/python bench/html_report.py --changed 1      # every ticket changed
    .venv/bin/python bench/html_report.py --quick          # 300 tickets, a smoke run

The plan is the one ``bench.py`` makes: a sandbox with N generated Service Requests
(20 fields each), manifests declaring every field of every ticket with one text field
changed in a share of them. It is planned in this process (the sandbox runs in a
thread, no latency) and rendered with ``render_html``; the CPU time of that render
and of the JSON plan are printed with the page's size.

Then headless Chromium (``/usr/bin/chromium``, driven by Playwright) opens the page
from its ``file://`` URL, and the page's own Performance API gives: the navigation
timings (DOM content loaded, load event), first contentful paint, the number of DOM
elements and the JS heap. Each interaction is timed in the page from the event to the
next rendered frame (``requestAnimationFrame`` then a task), median of 5: each filter,
a search that narrows to one ticket and clearing it, opening one row, expanding all
shown rows. The page's counts are checked against the plan.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from bench import _Admin, write_manifests
from reconcile.client import connect
from reconcile.config import load_settings
from reconcile.manager import Manager
from reconcile.render.html import render_html
from reconcile.sandbox import (
    DEFAULT_REALM,
    DEFAULT_SECRET,
    DEFAULT_TENANT_ID,
    Sandbox,
    SandboxOptions,
    make_token,
)
from reconcile.sandbox.demo import demo_ticket_types

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
REPEAT = 5

_NEXT_FRAME = """async () => {
    const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
    await frame();
    const started = performance.now();
    action();
    const handled = performance.now();
    await frame();
    return [handled - started, performance.now() - started];
}"""
"""Milliseconds from an action to the end of its handlers, and to the next rendered frame."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--changed", type=float, default=0.10, help="share of tickets changed")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 tickets")
    args = parser.parse_args(argv)
    if args.quick:
        args.tickets = 300
    if args.tickets < 1 or not 0 < args.changed <= 1:
        parser.error("need --tickets >= 1 and 0 < --changed <= 1")
    with tempfile.TemporaryDirectory(prefix="reconcile-html-bench-") as work:
        return bench(args.tickets, args.changed, Path(work))


def bench(n: int, share: float, work: Path) -> int:
    print(f"reconcile HTML report bench: N={n} tickets, {share:.0%} changed", flush=True)
    seed = work / "types.json"
    types = [t for t in demo_ticket_types() if t["prefix"] == "REQ"]
    seed.write_text(json.dumps({"ticket_types": types, "tickets": []}))
    with Sandbox(SandboxOptions(port=0, seed=seed, tickets=n)) as sandbox:
        token = make_token(
            secret=DEFAULT_SECRET, tenant_id=DEFAULT_TENANT_ID, realm=DEFAULT_REALM,
            sub="service-account-bench", roles=("ticket_admin",), teams=(), expires_in=3600,
        )  # fmt: skip
        admin = _Admin(sandbox.base_url, token)
        manifests = work / "manifests"
        changed, _ = write_manifests(
            manifests, admin.get("/ticket-type")["data"], admin.all_tickets(), share, "html"
        )
        env = {
            "RECONCILE_BASE_URL": sandbox.base_url,
            "RECONCILE_TENANT_ID": DEFAULT_TENANT_ID,
            "RECONCILE_REALM": DEFAULT_REALM,
            "RECONCILE_TOKEN": token,
        }
        settings = load_settings({}, env=env)
        with connect(settings, write=False, env=env) as client:
            manager = Manager(client)  # its target: the settings' tenant
            plan = manager.plan(manager.load([manifests]))
    print(f"plan: {plan.summary} ({changed} tickets changed in the manifests)")

    started = time.process_time()
    page = io.StringIO()
    render_html(plan, page)
    html_cpu = time.process_time() - started
    started = time.process_time()
    json_text = plan.to_json()
    json_cpu = time.process_time() - started
    path = work / "plan.html"
    path.write_text(page.getvalue(), encoding="utf-8")
    size = path.stat().st_size
    print(
        f"page: {size / 1e6:.2f} MB ({size / n:.0f} bytes a ticket), rendered in "
        f"{html_cpu:.2f} s CPU; the JSON plan {len(json_text.encode()) / 1e6:.2f} MB "
        f"in {json_cpu:.2f} s",
        flush=True,
    )
    return measure_in_browser(path, plan.summary, n)


def measure_in_browser(path: Path, summary: dict[str, int], n: int) -> int:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri(), wait_until="load")
            timings = page.evaluate(
                """async () => {
                    const fcp = await new Promise(resolve => {
                        new PerformanceObserver(list => resolve(list.getEntries()[0].startTime))
                            .observe({type: "paint", buffered: true});
                        setTimeout(() => resolve(null), 10000);
                    });
                    const nav = performance.getEntriesByType("navigation")[0];
                    return {
                        dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, fcp: fcp,
                        elements: document.getElementsByTagName("*").length,
                        heap: performance.memory ? performance.memory.usedJSHeapSize : null,
                    };
                }"""
            )
            counts = page.eval_on_selector_all(
                ".counts .count",
                "cs => Object.fromEntries(cs.map(c => "
                "[c.classList[1].slice(3), Number(c.querySelector('.n').textContent)]))",
            )
            if counts != {k: v for k, v in summary.items() if v or k != "create"}:
                print(f"the page's counts {counts} differ from the plan's {summary}")
                return 1
            heap = f"{timings['heap'] / 1e6:.0f} MB" if timings["heap"] else "n/a"
            print(
                f"load in Chromium: DOM content loaded {timings['dcl']:.0f} ms, load event "
                f"{timings['load']:.0f} ms, first contentful paint {_ms(timings['fcp'])}; "
                f"{timings['elements']} DOM elements, JS heap {heap}"
            )
            first_changed = "#tickets li[data-status=update] summary"
            # Each round goes through every state once, so each action changes something.
            actions = {
                "filter all -> changes": _click("input[value=changes]"),
                "filter changes -> errors": _click("input[value=errors]"),
                "filter errors -> all": _click("input[value=all]"),
                "search one ID": _type("req-" + str(n // 2).zfill(4)),
                "clear the search": _type(""),
                "open one row": _click(first_changed),
                "close it": _click(first_changed),
            }
            figures: dict[str, list[tuple[float, float]]] = {name: [] for name in actions}
            for _ in range(REPEAT):
                for name, action in actions.items():
                    figures[name].append(_timed(page, action))
            print(f"interactions (median of {REPEAT}: handlers done / next frame rendered):")
            for name, runs in figures.items():
                handled, framed = zip(*runs, strict=True)
                print(
                    f"  {name}: {statistics.median(handled):.1f} ms / "
                    f"{statistics.median(framed):.1f} ms (slowest frame {max(framed):.1f} ms)"
                )
            shown = page.text_content("#shown")
            expand = _timed(page, _click("#expand"))[1]
            collapse = _timed(page, _click("#collapse"))[1]
            print(f"  expand all ({shown}): {expand:.0f} ms; collapse all: {collapse:.0f} ms")
            if errors:
                print(f"console errors: {errors}")
                return 1
        finally:
            browser.close()
    if n < 10_000:
        print("(the figures that matter are at N = 10,000)")
    return 0


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def _click(selector: str) -> str:
    return f"document.querySelector({json.dumps(selector)}).click()"


def _type(text: str) -> str:
    return (
        "(() => { const s = document.getElementById('search'); "
        f"s.value = {json.dumps(text)}; s.dispatchEvent(new Event('input')); }})()"
    )


def _timed(page: Any, action: str) -> tuple[float, float]:
    handled, framed = page.evaluate(_NEXT_FRAME.replace("action()", action))
    return float(handled), float(framed)


if __name__ == "__main__":
    sys.exit(main())
