"""The fast reading of manifest files: rapidyaml parses, its JSON form is loaded.

rapidyaml (``ryml``) parses a file some 20 times faster than libyaml's events reach
Python, but its JSON form of a document is not the YAML 1.2 core schema: it drops
tags and anchors, writes aliases as ``"*name"`` strings, keeps duplicate keys and
rewrites some plain scalars (``inf`` becomes ``".inf"``). So this reader only
answers for a file it can prove it reads exactly as the line-numbered reader
(:mod:`~reconcile.manifest.yaml12`) would, and says ``None`` for every other file:

- the text has no tag, anchor, alias, directive or explicit key (``!``, ``&``, ``*``,
  ``%``, ``?`` where YAML reads them: not in a comment), no tab, no character libyaml
  refuses, no line break other than LF or CRLF (libyaml counts the others as lines),
  and no more characters than the longest scalar allowed (:data:`MAX_SCALAR_CHARS`);
- rapidyaml parses it and writes it as JSON (it refuses nesting deeper than 64);
- no mapping repeats a key (counted in the JSON text), no string could have been a
  plain scalar of another type (``~``, ``0x1F``, ``.inf``, ``True``, ...), and no key is ``<<``;
- every number is resolved from its text as written, by the same rules.

Anything else, including every problem, is read again by the line-numbered reader,
so messages keep their exact ``file:line``. Lines of a file read here are found
later, only when asked (:mod:`~reconcile.manifest.lines`).
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from reconcile.manifest.yaml12 import MAX_SCALAR_CHARS, resolve_plain

try:
    import ryml
except ImportError:  # pragma: no cover - rapidyaml is a dependency; without it, read slowly
    ryml = None

_TOKEN_BEFORE = frozenset(b" \n\r[]{},:")
_INDICATORS = (b"!", b"&", b"*", b"%", b"@", b"`")
"""Characters that start a tag, an anchor, an alias, a directive or nothing (reserved)
where a token starts: the JSON form loses what they mean, or libyaml refuses them."""
_OPENING = frozenset(b" \n\r,[{")
_FLOW_COLONS = (b"[:", b"{:", b",:", b":]", b":}", b":,")
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\n\r"
_NON_ASCII = bytes(range(0x80, 0x100))
_REFUSED_UTF8 = (b"\xef\xbf\xbe", b"\xef\xbf\xbf", b"\xe2\x80\xa8", b"\xe2\x80\xa9")
"""U+FFFE and U+FFFF (not characters), LS and PS (line breaks to libyaml)."""
_C1 = re.compile(rb"\xc2[\x80-\x9f]")
"""C1 controls, NEL among them, which libyaml refuses or counts as a line break."""
_NOT_A_STRING = re.compile(
    r'"(?=[~nNtTfF<*.+\-0-9])(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|<<|\*[^"]*'
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|0o[0-7]+|0x[0-9a-fA-F]+"
    r'|[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)"'
)
"""A JSON string that a plain scalar of another type, an alias or a merge key may have
become (a quoted scalar of that text is a string, but the JSON no longer tells)."""


class _NotExact(Exception):
    """The JSON form may differ from what the line-numbered reader reads."""


def available() -> bool:
    """Whether rapidyaml can be used here."""
    return ryml is not None


def documents(data: bytes, text: str) -> list[Any] | None:
    """The documents of a manifest file as plain values, or None: read it line by line.

    ``data`` is the file's bytes, ``text`` the same decoded (both already checked for
    size, NUL bytes and UTF-8). An empty document is None in the list.
    """
    if ryml is None or not _plain_text(data, text):
        return None
    try:
        tree = _tree()
        with quiet_stderr():
            ryml.parse_in_arena(data, tree=tree)
        root = tree.root_id()
        nodes = list(ryml.children(tree, root)) if tree.is_stream(root) else [root]
        found = []
        for node in nodes:
            emitted = _emit(tree, node, 2 * len(data) + 1024)
            found.append(None if emitted is None else _load(emitted))
        return found
    except (_NotExact, RecursionError, ValueError, ryml.ExceptionBasic, RuntimeError):
        return None


_trees = threading.local()


def _tree() -> Any:
    """This thread's tree, emptied: one reused for every file keeps the room it grew to,
    instead of growing a new tree by doublings (a fresh mapping of memory each) per file."""
    tree = getattr(_trees, "tree", None)
    if tree is None:
        tree = _trees.tree = ryml.Tree()
    else:
        tree.clear()
        tree.clear_arena()
    return tree


def _plain_text(data: bytes, text: str) -> bool:
    """No YAML feature the JSON form loses, no character libyaml sees otherwise, and none
    of the flow forms that rapidyaml reads and libyaml refuses (a bracket closing
    nothing, a colon beside a bracket or comma, a comment or a colon after a space on a
    line with a bracket). False alarms are safe: the file is then read line by line."""
    if len(text) > MAX_SCALAR_CHARS or b"\t" in data:
        return False
    odd = data.translate(None, _PRINTABLE_ASCII)
    if odd:  # what is left of the text: controls, and UTF-8 sequences whole
        if odd.translate(None, _NON_ASCII):
            return False  # a control character
        if any(refused in odd for refused in _REFUSED_UTF8) or _C1.search(odd):
            return False
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return False
    for character in _INDICATORS:
        if character in data and _starts_token(data, character):
            return False
    # In a flow collection libyaml takes a "?" starting a token as an explicit key even
    # before a letter (``[?x]`` is ``[{x: null}]``), which rapidyaml reads as text.
    flow = b"[" in data or b"{" in data
    if b"?" in data and any(
        (flow or data[p + 1 : p + 2] in (b"", b" ", b"\n", b"\r")) and not _in_comment(data, p)
        for p in _where(data, b"?", token=True)
    ):
        return False
    if flow:
        return _plain_flow(data)
    return b"]" not in data and b"}" not in data


def _plain_flow(data: bytes) -> bool:
    if any(colon in data for colon in _FLOW_COLONS):
        return False
    for closing in (b"]", b"}"):
        if any(p == 0 or data[p - 1] in _OPENING for p in _where(data, closing)):
            return False
    marks = [p for mark in (b" #", b" :") for p in _where(data, mark)]
    if not marks:
        return True
    for position in marks:  # a comment or a colon inside a flow collection on its line
        before = data[data.rfind(b"\n", 0, position) + 1 : position]
        if _depth(before):
            return False
    # A flow collection over several lines: such a mark on a line inside it is not told
    # by its own line, so any at all declines.
    return not any(_depth(line) for line in data.splitlines() if b"[" in line or b"{" in line)


def _depth(line: bytes) -> int:
    """How many flow collections are open at the end of ``line`` (brackets counted)."""
    return line.count(b"[") + line.count(b"{") - line.count(b"]") - line.count(b"}")


def _starts_token(data: bytes, character: bytes) -> bool:
    return any(not _in_comment(data, p) for p in _where(data, character, token=True))


def _in_comment(data: bytes, position: int) -> bool:
    """Whether ``position`` is surely in a comment, or else in the text of a block or
    quoted scalar: both readers then take the character as text, whatever it is.

    It is after a ``#`` that starts its line or follows a space, on a line without
    quotes: such a ``#`` starts a comment, unless the line is inside a block scalar or a
    quoted scalar of several lines, where the whole line is text (no quote on the line:
    none ends there). A comment such as ``# run `reconcile plan``` is then read fast."""
    start = data.rfind(b"\n", 0, position) + 1
    end = data.find(b"\n", position)
    line = data[start : len(data) if end < 0 else end]
    if b'"' in line or b"'" in line:
        return False
    mark = line.find(b"#", 0, position - start)
    while mark >= 0:
        if mark == 0 or line[mark - 1] == 0x20:  # a space (a tab refused the file already)
            return True
        mark = line.find(b"#", mark + 1, position - start)
    return False


def _where(data: bytes, part: bytes, *, token: bool = False) -> Iterator[int]:
    """Where ``part`` occurs in ``data`` (only where a token may start, with ``token``)."""
    position = data.find(part)
    while position >= 0:
        if not token or position == 0 or data[position - 1] in _TOKEN_BEFORE:
            yield position
        position = data.find(part, position + 1)


def _emit(tree: Any, node: int, size_hint: int) -> str | None:
    """The JSON form of a document (None for an empty one).

    Written into a buffer of ours: ``emit_json_malloc`` never frees the copy it makes
    (rapidyaml 0.15.2), which would keep every file's JSON form in memory.
    """
    buffer = bytearray(size_hint)
    with quiet_stderr():
        failed, size = ryml.emit_json_to_substr(tree, node, buffer)
        if failed:
            buffer = bytearray(size)
            failed, size = ryml.emit_json_to_substr(tree, node, buffer)
    if failed or not size:
        return None
    # Strict UTF-8: a lone surrogate means rapidyaml decoded an escape libyaml refuses.
    emitted = buffer[:size].decode("utf-8")
    if _NOT_A_STRING.search(emitted):
        raise _NotExact
    return emitted


def _load(emitted: str) -> Any:
    """The JSON form loaded, refused where a mapping repeats a key.

    rapidyaml writes each key as ``"key": `` (a ``"`` inside a string is ``\"``), so
    the keys written are those ``": `` less the ``\": `` inside strings; json keeps one
    of a repeated key, so fewer keys loaded than written means a repeat. (A string
    ending in a backslash miscounts: the file is then read line by line, which is safe.)
    """
    loaded = [0]

    def mapping(value: dict[str, Any]) -> dict[str, Any]:
        loaded[0] += len(value)
        return value

    found = json.loads(
        emitted,
        object_hook=mapping,
        parse_int=resolve_plain,
        parse_float=resolve_plain,
        parse_constant=_constant,
    )
    if loaded[0] != emitted.count('": ') - emitted.count('\\": '):
        raise _NotExact
    return found


def _constant(name: str) -> Any:
    raise _NotExact


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """rapidyaml prints its own error report to the C stderr before raising: hide it
    (the line-numbered reader then reports the problem in one line).

    The descriptor is redirected for the call only; where it cannot be (no stderr at
    all), nothing is hidden.
    """
    global _devnull
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        if _devnull is None:
            _devnull = os.open(os.devnull, os.O_WRONLY)
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        os.dup2(_devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_devnull: int | None = None
