"""``reconcile demo`` and the example manifests it runs: the README's first command."""

from __future__ import annotations

from pathlib import Path

import pytest

import reconcile

from cli_runner import run_cli

EXAMPLES = Path(__file__).parent.parent / "manifests"


def test_demo_runs_plan_apply_noop_plan_and_drift_on_the_examples() -> None:
    before = {p: p.read_bytes() for p in EXAMPLES.rglob("*.yaml")}
    result = run_cli(["demo", str(EXAMPLES)], {"NO_COLOR": "1", "RECONCILE_TOKEN": None})
    assert result.exit_code == 0, result.stdout + result.stderr
    out = result.stdout
    commands = [line for line in out.splitlines() if line.startswith("$ reconcile")]
    assert [c.split()[2] for c in commands] == ["plan", "apply", "plan", "apply", "drift"]
    assert "+ REQ onboarding-alice (create)" in out
    assert "+ REQ onboarding-alice: created REQ-0517" in out
    assert "  id REQ-0517 written into " in out
    assert "Apply: 1 created, 8 updated, 0 failed, 0 unchanged." in out
    assert "No changes. Live tickets match the manifests." in out
    assert "Apply: 0 updated, 0 failed, 9 unchanged." in out  # the second apply creates nothing
    assert "Drift: 1 drifted, 8 in sync." in out and "last updated by jdoe" in out
    assert out.rstrip().endswith("an apply that created nothing, and drift all behaved.")
    # Write-back went to a temporary copy: the repository's manifests are untouched.
    assert {p: p.read_bytes() for p in EXAMPLES.rglob("*.yaml")} == before


def test_demo_fails_loudly_when_a_step_does_not_behave(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("tickets:\n  - id: REQ-0509\n    fields:\n      nope: 1\n")
    result = run_cli(["demo", str(tmp_path)], {"NO_COLOR": "1"})
    assert result.exit_code == 1
    assert "bad.yaml:4: REQ-0509: unknown field 'nope'" in result.stderr
    assert "$ reconcile apply" not in result.stdout


def test_demo_ignores_the_users_settings(tmp_path: Path) -> None:
    """The demo hands its settings to the commands: the user's cannot point them elsewhere
    or break them (an invalid parallelism, say)."""
    (tmp_path / "reconcile.yaml").write_text("base_url: http://127.0.0.1:9\nrealm: elsewhere\n")
    user = {
        "RECONCILE_BASE_URL": "http://127.0.0.1:9",
        "RECONCILE_CONFIG": str(tmp_path / "reconcile.yaml"),
        "RECONCILE_TOKEN": "not-a-token",
        "RECONCILE_PARALLELISM": "0",
    }
    result = run_cli(["demo", str(EXAMPLES)], {"NO_COLOR": "1", **user})
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "Demo complete" in result.stdout


def test_demo_outside_the_repository_runs_the_manifests_shipped_with_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no manifests/ here
    result = run_cli(["demo"], {"NO_COLOR": "1", "RECONCILE_TOKEN": None})
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "Apply: 1 created, 8 updated, 0 failed, 0 unchanged." in result.stdout
    assert "demo_manifests" in result.stdout


def test_the_repositorys_manifests_are_the_packaged_ones() -> None:
    """One copy: the README's manifests/ is the package's demo_manifests/."""
    assert EXAMPLES.resolve() == (Path(reconcile.__file__).parent / "demo_manifests").resolve()
