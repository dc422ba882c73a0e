"""One apply at a time per working tree: an exclusive lock on a file while it plans and writes.

Two applies that race in the same working tree (a developer's two terminals, two CI
steps on one checkout) would both find a key on no ticket and both create it. They
serialize on an advisory ``fcntl.flock`` instead: the second waits until the first
has created its tickets and written their ids back, then plans and finds them.

The lock file lives in the git directory of the working tree that holds the manifests
(``.git/reconcile-apply.lock``; for a linked worktree, that worktree's own git
directory), where it is never committed and never shows as untracked. Outside a git
repository it is ``.reconcile-apply.lock`` in the manifests' directory. The lock is
released by the kernel when the process ends, however it ends, so a killed run never
leaves a stale lock behind. Across machines there is no lock: the apply-on-merge
workflow serializes its runs with a concurrency group.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from reconcile.errors import PlanError

LOCK_NAME = "reconcile-apply.lock"
LOCK_WAIT_SECONDS = 600.0
"""How long an apply waits for another one in the same working tree before giving up."""
_POLL_SECONDS = 0.1


def lock_path(paths: Sequence[str | Path]) -> Path:
    """Where the apply lock of these manifests lives (see the module docstring)."""
    resolved = [Path(p).resolve() for p in paths] or [Path.cwd().resolve()]
    directories = [p if p.is_dir() else p.parent for p in resolved]
    start = Path(os.path.commonpath([str(d) for d in directories]))
    for directory in (start, *start.parents):
        git = directory / ".git"
        if git.is_dir():
            return git / LOCK_NAME
        if git.is_file():
            gitdir = _gitdir(git)
            if gitdir is not None:
                return gitdir / LOCK_NAME
    return start / f".{LOCK_NAME}"


def _gitdir(dotgit: Path) -> Path | None:
    """The git directory that a worktree's ``.git`` file points to (``gitdir: PATH``)."""
    try:
        text = dotgit.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("gitdir:"):
        return None
    target = Path(text.removeprefix("gitdir:").strip())
    target = target if target.is_absolute() else dotgit.parent / target
    return target if target.is_dir() else None


@contextlib.contextmanager
def apply_lock(
    paths: Sequence[str | Path],
    *,
    on_wait: Callable[[Path], None] | None = None,
    wait_seconds: float = LOCK_WAIT_SECONDS,
) -> Iterator[Path]:
    """Hold the apply lock of ``paths`` inside the ``with`` block.

    ``on_wait`` is called once when another apply holds it. :class:`PlanError` when
    the lock cannot be opened or is still held after ``wait_seconds``.
    """
    path = lock_path(paths)
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise PlanError(f"{path}: cannot open the apply lock: {error.strerror}") from None
    try:
        deadline = time.monotonic() + wait_seconds
        waited = False
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited and on_wait is not None:
                    on_wait(path)
                waited = True
                if time.monotonic() >= deadline:
                    raise PlanError(
                        f"{path}: another apply in this working tree held the lock for "
                        f"{wait_seconds:g} s; nothing was written"
                    ) from None
                time.sleep(_POLL_SECONDS)
        yield path
    finally:
        os.close(descriptor)
