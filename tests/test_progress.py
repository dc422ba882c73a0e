"""The progress bar: on a terminal only, never in CI logs or when output is piped.

``reconcile plan`` runs as a subprocess against the sandbox, with its output on a
pseudo-terminal or on pipes; the bar's label (``Reading``) tells whether it was drawn.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from reconcile.sandbox import DEMO_ADMIN, Sandbox

MANIFEST = "tickets:\n" + "".join(
    f"  - id: REQ-{n:04d}\n    fields:\n      priority: High\n" for n in range(501, 505)
)


def environment(sandbox: Sandbox, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS", "NO_COLOR")}
    env = {k: v for k, v in env.items() if not k.startswith("RECONCILE_")}
    return {
        **env,
        "RECONCILE_BASE_URL": sandbox.base_url,
        "RECONCILE_TENANT_ID": sandbox.tenant_id,
        "RECONCILE_REALM": sandbox.realm,
        # An admin's token: REQ-0504 (team infrastructure) is outside the writer's teams.
        "RECONCILE_TOKEN": sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=()),
        **extra,
    }


def on_terminal(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run with stdin, stdout and stderr on one pseudo-terminal; its exit status and output."""
    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "reconcile", *args],
        stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=cwd,
    )  # fmt: skip
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return child.wait(timeout=30), b"".join(chunks).decode(errors="replace")


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def test_a_terminal_shows_the_bar(sandbox, manifest: Path) -> None:
    status, output = on_terminal(["plan", "m.yaml"], environment(sandbox), manifest.parent)
    assert status == 0, output
    assert "Reading" in output
    assert "Plan: " in output


def test_ci_shows_no_bar_even_on_a_terminal(sandbox, manifest: Path) -> None:
    env = environment(sandbox, CI="true")
    status, output = on_terminal(["plan", "m.yaml"], env, manifest.parent)
    assert status == 0, output
    assert "Reading" not in output
    assert "Plan: " in output


def test_piped_output_shows_no_bar(sandbox, manifest: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconcile", "plan", "m.yaml"],
        env=environment(sandbox), cwd=manifest.parent, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "Reading" not in result.stdout


def test_stdout_piped_with_stderr_on_a_terminal_shows_no_bar(sandbox, manifest: Path) -> None:
    """``reconcile plan --format json | jq``: the terminal is there, the bar is not wanted."""
    controller, terminal = pty.openpty()
    result = subprocess.run(
        [sys.executable, "-m", "reconcile", "plan", "m.yaml", "--format", "json"],
        stdout=subprocess.PIPE, stderr=terminal, env=environment(sandbox),
        cwd=manifest.parent, timeout=30,
    )  # fmt: skip
    os.close(terminal)
    os.set_blocking(controller, False)
    try:
        shown = os.read(controller, 65536)
    except (BlockingIOError, OSError):
        shown = b""
    os.close(controller)
    assert result.returncode == 0
    assert b"Reading" not in shown
    assert result.stdout.startswith(b"{")
