"""``bench/bench.py --quick``: the benchmark runs end to end and prints its figures.

Timing targets are not asserted here (benchmarks are not tests); that the runs
succeed, converge and count their requests is.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "bench" / "bench.py"


@pytest.mark.slow  # some ten seconds of CPU: the bounded slow step of .ci/run runs it
def test_quick_bench_runs_and_reports_every_figure() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "manifests: 300 tickets in 3 files, 20.0 fields each, 30 changed" in out
    assert re.search(r"planner CPU .* parse\+resolve [0-9.]+ s, diff [0-9.]+ s", out)
    assert re.search(r"plan of 300 tickets: wall [0-9.]+ s, CPU [0-9.]+ s, peak RSS \d+ MB", out)
    assert re.search(r"reconcile apply: wall [0-9.]+ s, CPU [0-9.]+ s, peak RSS \d+ MB", out)
    assert re.search(r"plan of 300 tickets: .*, 2 requests\n", out)
    assert "requests: 32 (list 1, ticket_type 1, update 30); PATCHes 30, without etag 0" in out
    # The one-GET-per-ticket runs: the sandbox without its list endpoint.
    assert "requests: 302 (get 300, list 1, ticket_type 1); PATCHes 0" in out
    assert "requests: 332 (get 300, list 1, ticket_type 1, update 30); PATCHes 30" in out
    assert out.count("plan after apply: exit 0") == 2
    assert re.search(r"for 300 \(extrapolated from 100 tickets\)", out)
    # Every figure of issue 11 is printed with its target.
    for label in (
        r"start: reconcile --version: \d+ ms, [0-9.]+ x python -c pass \(target <= 3 x",
        r"start: reconcile validate manifests/: \d+ ms, [0-9.]+ x python -c pass",
        r"client CPU per GET: [0-9.]+ ms .*\(target <= 0.4 ms",
        r"client CPU per PATCH: -?[0-9.]+ ms .*\(target <= 0.4 ms",
        r"plan of 300 tickets vs yaml.load\(CSafeLoader\) of its 3 files: .* ratio [0-9.]+ "
        r"\(target <= 0.6",
        r"apply's PATCH phase alone vs its floor: .* \(target <= 1.5 x",
        r"apply \(list path\) vs its request floor: .* \(target <= 1.5 x",
        r"plan, one GET per ticket, vs its floor: .* \(target <= 1.1 x",
        r"apply, one GET per ticket, vs its floor: .* \(target <= 1.1 x",
    ):
        assert re.search(label, out), label
    # A smoke run says so, and judges no timing target at its size.
    assert out.startswith("reconcile bench smoke run (--quick): N=300 tickets")
    assert "MISSED" not in out and "targets missed" not in out and "targets met" not in out
    assert out.count("not judged: smoke run") == 9
    assert out.rstrip().endswith(
        "the timing targets are not judged at this size (run without --quick for them)"
    )


@pytest.mark.browser
def test_html_report_bench_runs_and_reports_every_figure() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH.with_name("html_report.py")), "--quick"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"plan: {.*'update': 30, 'unchanged': 270, 'error': 0}", out)
    assert re.search(r"page: [0-9.]+ MB \(\d+ bytes a ticket\), rendered in [0-9.]+ s CPU", out)
    assert re.search(r"load in Chromium: DOM content loaded \d+ ms, load event \d+ ms", out)
    for name in ("filter all -> changes", "search one ID", "open one row"):
        assert re.search(rf"{name}: [0-9.]+ ms / [0-9.]+ ms", out)
