"""Finding manifest files and reading their text, with every problem collected.

A directory is walked in sorted order, following directory symlinks with loops
detected; a file is refused when too large, binary or not UTF-8.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconcile.errors import ManifestError, Problem
from reconcile.manifest.model import file_problem, problem

MAX_FILE_BYTES = 5 * 1024 * 1024
"""A manifest file larger than this is refused unread (manifests are hand-written)."""

_TOO_LARGE = f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; refusing to read it"
_BINARY = "binary file"
_NOT_YAML = "not a YAML manifest"

MANIFEST_SUFFIXES = (".yaml", ".yml")
TOOL_FILES = frozenset({"reconcile.yaml", "reconcile.lock.yaml"})
"""The tool's own files, skipped when searching directories."""


def find_manifest_files(paths: Sequence[str | Path]) -> list[Path]:
    """The manifest files under ``paths``, in order, each once (also when paths overlap,
    as ``m/ m/network`` or a file and its directory do: read once, named as first met).

    A file is taken as given; a directory is searched recursively, in sorted order,
    for ``*.yaml``/``*.yml``, skipping hidden entries and the tool's own files.
    Directory symlinks are followed, with loops detected. Raises ManifestError
    listing every path that does not exist, is a broken symlink or loop, or is a
    directory without manifests.
    """
    files, problems = find(paths)
    if problems:
        raise ManifestError(problems)
    return files


def find(paths: Sequence[str | Path]) -> tuple[list[Path], list[Problem]]:
    """:func:`find_manifest_files`, returning the problems instead of raising them."""
    problems: list[Problem] = []
    found: list[Path] = []
    seen: set[str] = set()
    matched = [0]  # manifest files met, each once or again through an overlapping path

    def add(path: Path) -> None:
        matched[0] += 1
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            found.append(path)

    for given in paths:
        path = Path(given)
        trouble = _stat_problem(path)
        if trouble:
            problems.append(file_problem(str(path), trouble))
        elif path.is_dir():
            matched_before, problems_before = matched[0], len(problems)
            _walk(path, {_dir_key(path)}, add, problems)
            if matched[0] == matched_before and len(problems) == problems_before:
                problems.append(
                    file_problem(str(path), "no manifest files (*.yaml, *.yml) in this directory")
                )
        else:
            add(path)
    return found, problems


def _walk(
    directory: Path, ancestors: set[tuple[int, int]], add: Any, problems: list[Problem]
) -> None:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as error:
        problems.append(file_problem(str(directory), f"cannot read directory: {error.strerror}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = directory / entry.name
        is_manifest_name = entry.name.endswith(MANIFEST_SUFFIXES) and entry.name not in TOOL_FILES
        trouble = _stat_problem(path)
        if trouble:
            if is_manifest_name or "loop" in trouble:
                problems.append(file_problem(str(path), trouble))
            continue
        if path.is_dir():
            key = _dir_key(path)
            if key in ancestors:
                problems.append(
                    file_problem(str(path), "symlink loop: points back to a directory above it")
                )
                continue
            _walk(path, ancestors | {key}, add, problems)
        elif is_manifest_name and path.is_file():
            add(path)


def _stat_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used, or None."""
    try:
        os.stat(path)
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symlink loop: the link never reaches a file"
        if os.path.islink(path):
            return f"broken symlink: its target {os.readlink(path)} does not exist"
        if error.errno == errno.ENOENT:
            return "no such file or directory"
        return f"cannot read: {error.strerror}"


def _dir_key(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return (status.st_dev, status.st_ino)


def read(path: Path) -> tuple[bytes, str, Problem | None]:
    """A manifest file's bytes and text, or the one problem that keeps it from being read.

    These are all the checks of a file's input: what is read here is not checked again.
    """
    name = str(path)
    try:
        with open(path, "rb") as handle:
            # Sized by the file: a read of the most allowed would allocate 5 MiB a file.
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(min(size, MAX_FILE_BYTES) + 1)
            if len(data) > size:  # grown meanwhile, or a size the system does not tell
                data += handle.read(MAX_FILE_BYTES + 1 - len(data))
    except OSError as error:
        return b"", "", file_problem(name, f"cannot read: {error.strerror}")
    if len(data) > MAX_FILE_BYTES:
        return b"", "", file_problem(name, _TOO_LARGE)
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        return b"", "", problem(name, line, f"{_BINARY} (NUL byte at offset {nul}), {_NOT_YAML}")
    try:
        return data, data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start]
        return (
            b"",
            "",
            problem(
                name,
                line,
                f"not valid UTF-8: byte 0x{byte:02x} at offset {error.start}; "
                "save the file as UTF-8",
            ),
        )


def check_text(text: str, path: str) -> Problem | None:
    """:func:`read`'s checks for a manifest's text given, not read from a file."""
    if len(text) > MAX_FILE_BYTES:
        return file_problem(path, _TOO_LARGE)
    nul = text.find("\x00")
    if nul >= 0:
        return problem(path, text.count("\n", 0, nul) + 1, f"{_BINARY} (NUL byte), {_NOT_YAML}")
    return None


def mib(size: int) -> str:
    return f"{size // (1024 * 1024)} MiB"
