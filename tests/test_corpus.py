"""The bad-input corpus through the command line, against the sandbox.

Every bad manifest of ``tests/manifests/`` (see its README), and hostile cases made
here because they are too big or cannot be stored in git, given to ``reconcile plan``
and ``reconcile apply --auto-approve``: exit 1, one line ``Error: file:line: message``
on stderr, no traceback, nothing on stdout, and no request that writes (at most the
one read of the ticket types, for problems that need the schema). Memory and time
stay bounded.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "manifests"
BAD_FILES = sorted((CORPUS / "bad").glob("*.yaml"))
BAD_DIRS = sorted(p for p in (CORPUS / "bad-dirs").iterdir() if p.is_dir())
COMMANDS = (("plan",), ("apply", "--auto-approve"))


def header(path: Path) -> tuple[str, int | None]:
    """The file's ``# expect:`` fragment and ``# line:`` (None: about the whole file)."""
    first, second = path.read_bytes().split(b"\n")[:2]
    expect = first.decode("latin-1").removeprefix("# expect: ")
    line = second.decode("latin-1").removeprefix("# line: ")
    return expect, None if line == "none" else int(line)


def key_field_env(path: Path) -> dict[str, str]:
    """The optional third header line ``# key_field: FIELD`` as the setting's variable."""
    lines = path.read_bytes().split(b"\n")
    third = lines[2].decode("latin-1") if len(lines) > 2 else ""
    if not third.startswith("# key_field: "):
        return {}
    return {"RECONCILE_KEY_FIELD": third.removeprefix("# key_field: ")}


def assert_refused(
    cli: Callable[..., object], sandbox, target: str, where: str, expect: str, **env: str
):
    """Both commands exit 1 with exactly the one expected line and write nothing."""
    for command in COMMANDS:
        sandbox.reset_stats()
        result = cli(*command, target, expect=1, **env)
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"Error: {where}: "), lines[0]
        assert expect in lines[0]
        stats = sandbox.stats()
        assert stats["requests"] <= 1 and set(stats["by_route"]) <= {"ticket_type"}
        assert stats["writes"]["patches"] == 0 and stats["writes"]["creates"] == 0


def test_the_corpus_is_big_enough() -> None:
    assert len(BAD_FILES) + len(BAD_DIRS) >= 30


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_manifest_is_one_clear_error_and_no_write(cli, sandbox, path: Path) -> None:
    expect, line = header(path)
    where = str(path) if line is None else f"{path}:{line}"
    assert_refused(cli, sandbox, str(path), where, expect, **key_field_env(path))


@pytest.mark.parametrize("directory", BAD_DIRS, ids=lambda p: p.name)
def test_bad_directory_is_one_clear_error_and_no_write(cli, sandbox, directory: Path) -> None:
    text = (directory / "expect.txt").read_text(encoding="utf-8")
    spec = dict(line.split(": ", 1) for line in text.splitlines())
    path = directory if spec["where"] == "." else directory / spec["where"]
    where = str(path) if spec["line"] == "none" else f"{path}:{spec['line']}"
    assert_refused(cli, sandbox, str(directory), where, spec["expect"].format(dir=directory))


def _alias_bomb() -> str:
    """Nine levels of ten aliases each: a billion values if expanded."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return "\n".join([*levels, "tickets: []", ""])


def _make_empty_dir(root: Path) -> tuple[Path, Path, str]:
    (root / "empty").mkdir()
    return root / "empty", root / "empty", "no manifest files (*.yaml, *.yml) in this directory"


def _make_symlink_loop(root: Path) -> tuple[Path, Path, str]:
    (root / "loop").mkdir()
    (root / "loop" / "back").symlink_to(root / "loop", target_is_directory=True)
    return root / "loop", root / "loop" / "back", "symlink loop"


def _make_self_link(root: Path) -> tuple[Path, Path, str]:
    (root / "self.yaml").symlink_to(root / "self.yaml")
    return root / "self.yaml", root / "self.yaml", "symlink loop"


def _make_enormous_scalar(root: Path) -> tuple[Path, Path, str]:
    path = root / "scalar.yaml"
    path.write_text(
        "tickets:\n  - id: REQ-0501\n    fields:\n      summary: " + "x" * (1 << 20) + "y\n"
    )
    return path, Path(f"{path}:4"), "a value longer than 1 MiB; refusing to read it"


def _make_huge_file(root: Path) -> tuple[Path, Path, str]:
    path = root / "huge.yaml"
    path.write_text("tickets: []\n" + "# filler line\n" * 400_000)
    return path, path, "file is larger than 5 MiB; refusing to read it"


def _make_alias_bomb(root: Path) -> tuple[Path, Path, str]:
    path = root / "bomb.yaml"
    path.write_text(_alias_bomb())
    return path, Path(f"{path}:5"), "aliases expand to more than 100000 values"


def _make_zero_bytes(root: Path) -> tuple[Path, Path, str]:
    path = root / "zero.yaml"
    path.write_bytes(b"")
    return path, path, "empty manifest: no YAML document in the file"


def _make_missing(root: Path) -> tuple[Path, Path, str]:
    return root / "nowhere.yaml", root / "nowhere.yaml", "no such file or directory"


GENERATED = {
    "empty-dir": _make_empty_dir,
    "symlink-loop": _make_symlink_loop,
    "self-link": _make_self_link,
    "enormous-scalar": _make_enormous_scalar,
    "huge-file": _make_huge_file,
    "alias-bomb": _make_alias_bomb,
    "zero-bytes": _make_zero_bytes,
    "missing": _make_missing,
}


@pytest.mark.parametrize("make", GENERATED.values(), ids=GENERATED.keys())
def test_generated_hostile_input_is_refused_quickly_in_bounded_memory(
    cli, sandbox, tmp_path: Path, make: Callable[[Path], tuple[Path, Path, str]]
) -> None:
    target, where, expect = make(tmp_path)
    tracemalloc.start()
    started = time.monotonic()
    try:
        assert_refused(cli, sandbox, str(target), str(where), expect)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 5, f"took {elapsed:.1f} s"
    # Two runs over at most a 5 MiB file: reading it is fine, expanding it is not.
    assert peak < 64 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"


def test_relative_paths_are_reported_as_given(cli, sandbox) -> None:
    """Users run from their repository: the message names the path they typed."""
    source = CORPUS / "bad" / "unknown-field.yaml"
    Path("m").mkdir()
    Path("m", "x.yaml").write_bytes(source.read_bytes())
    expect, line = header(source)
    assert_refused(cli, sandbox, "m", f"{os.path.join('m', 'x.yaml')}:{line}", expect)
