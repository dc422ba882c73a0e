"""Commands the docs show, run as written against a sandbox (a doc that lies is a bug)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def documented_block(doc: Path, heading: str) -> str:
    """The first ``sh`` code block under ``heading`` in ``doc``."""
    text = doc.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, f"no sh block under {heading!r} in {doc}"
    return match.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the documented commands use curl")
def test_the_documented_edit_as_another_user_makes_drift(sandbox: Any) -> None:
    script = documented_block(
        REPO / "docs" / "sandbox.md", "## Making an edit as another user (to try drift)"
    )
    bin_dir = str(Path(sys.executable).parent)  # where `reconcile` is installed
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILE_", "GITHUB_"))}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        RECONCILE_BASE_URL=sandbox.base_url,
        RECONCILE_TENANT_ID=sandbox.tenant_id,
        RECONCILE_REALM=sandbox.realm,
        RECONCILE_TOKEN=sandbox.token(),
        RECONCILE_KEY_FIELD="external_ref",  # as the quick start exports it
        NO_COLOR="1",
    )

    def run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, **kwargs
        )

    # The quick start first: apply, then drift is clean.
    # --no-write-back as the quick start says: the repository's examples stay as they are.
    applied = run("reconcile", "apply", "manifests/", "--auto-approve", "--no-write-back")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert run("reconcile", "drift", "manifests/").returncode == 0
    result = run("bash", "-c", "set -eo pipefail\n" + script)  # drift's exit 2 ends it
    assert result.returncode == 2, result.stdout + result.stderr
    assert '"success":true' in result.stdout.replace(" ", "")
    assert "REQ-0509" in result.stdout and "jdoe" in result.stdout
    assert sandbox.store.get("REQ-0509")["lastUpdatedBy"] == "jdoe"
