"""Where the apply lock lives (a linked worktree's own git directory, or beside the
manifests outside git), and the lock refusing in one line when it cannot be had."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.apply_lock import LOCK_NAME, apply_lock, lock_path
from reconcile.errors import PlanError


def test_a_linked_worktree_locks_in_its_own_git_directory(tmp_path: Path) -> None:
    gitdir = tmp_path / "repo" / ".git" / "worktrees" / "feature"
    gitdir.mkdir(parents=True)
    tree = tmp_path / "feature"
    (tree / "manifests").mkdir(parents=True)
    (tree / ".git").write_text("gitdir: ../repo/.git/worktrees/feature\n", encoding="utf-8")
    assert lock_path([tree / "manifests"]).resolve() == gitdir.resolve() / LOCK_NAME


@pytest.mark.parametrize(
    "content", [b"gitdir: /nonexistent/worktree\n", b"not a gitdir line\n", b"\xff\xfe"]
)
def test_a_git_file_that_names_no_git_directory_is_passed_over(
    tmp_path: Path, content: bytes
) -> None:
    (tmp_path / "outer" / ".git").mkdir(parents=True)
    tree = tmp_path / "outer" / "tree"
    tree.mkdir()
    (tree / ".git").write_bytes(content)
    assert lock_path([tree]) == tmp_path / "outer" / ".git" / LOCK_NAME


def test_outside_git_the_lock_is_beside_the_manifests(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("tickets: []\n")
    if any((p / ".git").exists() for p in tmp_path.parents):
        pytest.skip("the temporary directory is inside a git repository")
    assert lock_path([manifest]) == tmp_path / f".{LOCK_NAME}"


def test_a_held_lock_is_refused_after_the_wait(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    waited: list[Path] = []
    with (
        apply_lock([tmp_path]) as held,
        pytest.raises(PlanError) as raised,
        apply_lock([tmp_path], on_wait=waited.append, wait_seconds=0),
    ):
        pass
    assert str(raised.value) == (
        f"{held}: another apply in this working tree held the lock for 0 s; nothing was written"
    )
    assert waited == [held]


def test_a_lock_that_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / ".git" / LOCK_NAME).mkdir(parents=True)  # a directory where the file belongs
    with (
        pytest.raises(PlanError, match="cannot open the apply lock: Is a directory"),
        apply_lock([tmp_path]),
    ):
        pass
