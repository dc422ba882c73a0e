"""Lines of manifest files, found by a node's path in its document when asked.

:class:`ComposedLines` answers from the line-numbered node trees of a file read by
:mod:`~reconcile.manifest.yaml12`. :class:`RapidLines` answers for a file read fast
(:mod:`~reconcile.manifest.rapid`): it parses the file again with rapidyaml, whose
nodes point into the text, and counts the line breaks before the node's text. Where
that does not tell the line as libyaml gives it (a flow mapping, a block scalar, a
text that rapidyaml had to rewrite), it reads the file line by line instead, once.
"""

from __future__ import annotations

import zlib
from typing import Any

from reconcile.errors import ManifestError
from reconcile.manifest import rapid
from reconcile.manifest.model import Steps, file_problem
from reconcile.manifest.yaml12 import Collection, Composer, Node


class ComposedLines:
    """Lines of a file from its composed documents (None for an empty document)."""

    __slots__ = ("documents", "path")

    def __init__(self, path: str, documents: list[Node | None]):
        self.path = path
        self.documents = documents

    def line(self, document: int, steps: Steps, *, key: bool) -> int:
        node = self.documents[document]
        line = node.line if node is not None else 1
        for step in steps:
            if not isinstance(node, Collection):
                break
            if isinstance(step, int):
                node = node.items[step]
                line = node.line
            else:
                key_line, node = next((ln, n) for k, ln, n in node.pairs if k == step)
                line = key_line
        if key:
            return line
        assert node is not None
        return node.line


class RapidLines:
    """Lines of a file read fast; the file is parsed again on the first question.

    A file read from disk is not kept: it is read again then (and refused if it
    changed meanwhile). Only the last few files asked about keep their parsed copy.
    """

    __slots__ = ("_checksum", "_data", "_exact", "_index", "_last", "path")

    def __init__(self, path: str, data: bytes, *, kept: bool = True):
        self.path = path
        self._data = data if kept else None
        self._checksum = (len(data), zlib.crc32(data))
        self._index: _Pointers | None = None
        self._exact: ComposedLines | None = None
        self._last = (0, 1)  # the offset and line of the last answer: most come in order

    def line(self, document: int, steps: Steps, *, key: bool) -> int:
        if self._exact is None:
            index = self._index
            if index is None:
                index = self._index = _Pointers(self.data(), _spare.pop() if _spare else None)
                _recent.append(self)
                if len(_recent) > _RECENT:
                    evicted = _recent.pop(0)
                    if evicted._index is not None:
                        _spare.append(evicted._index.tree)
                    evicted._index = None
            offset = index.offset(document, steps, key=key)
            if offset is not None:
                start, line = self._last if self._last[0] <= offset else (0, 1)
                line += index.data.count(b"\n", start, offset)
                self._last = (offset, line)
                return line
            self._exact = self._compose(index.data)
        return self._exact.line(document, steps, key=key)

    def data(self) -> bytes:
        """The file's bytes as they were read."""
        if self._data is not None:
            return self._data
        try:
            with open(self.path, "rb") as handle:
                data = handle.read(self._checksum[0] + 1)
        except OSError as error:
            raise self._changed(f"cannot read it again: {error.strerror}") from None
        if (len(data), zlib.crc32(data)) != self._checksum:
            raise self._changed("it changed while being read; run again")
        return data

    def _changed(self, why: str) -> ManifestError:
        return ManifestError([file_problem(self.path, f"cannot tell a line of this file: {why}")])

    def _compose(self, data: bytes) -> ComposedLines:
        documents = Composer(data.decode("utf-8"), self.path, []).documents() or []
        return ComposedLines(self.path, documents)


_RECENT = 2
_recent: list[RapidLines] = []
"""The files whose parsed copies are kept (a plan asks about them in file order)."""
_spare: list[Any] = []
"""Trees of files no longer kept, to parse the next file into: a tree grows by
doublings, each a fresh mapping of memory, so one is kept rather than grown again."""


class _Pointers:
    """rapidyaml's tree of a file parsed in place: a scalar's text lies in the buffer."""

    def __init__(self, data: bytes, tree: Any = None):
        self.data = data
        self.buffer = bytearray(data)
        self.view = memoryview(self.buffer)
        import ryml

        if tree is not None:
            tree.clear()
            tree.clear_arena()
        with rapid.quiet_stderr():
            self.tree = ryml.parse_in_place(self.buffer, tree=tree)
        self.none = ryml.NONE
        # The test of one pointer against another: how a node's offset is told.
        self.same: Any = getattr(ryml.ryml, "_same_ptr", None)
        self.starts: dict[int, int] = {}
        # Nodes are numbered in the order they are written: the start of the last
        # node numbered before one is an offset at or before that one's start.
        self.floor = (-1, 0)

    def offset(self, document: int, steps: Steps, *, key: bool) -> int | None:
        """Where the node's key (with ``key``) or the node itself starts, or None."""
        if self.same is None:
            return None
        tree, none = self.tree, self.none
        node = tree.root_id()
        if tree.is_stream(node):
            node = tree.child(node, document)
        elif document:
            return None
        for step in steps:
            if node == none or not tree.is_container(node):
                return None
            node = tree.child(node, step) if isinstance(step, int) else tree.find_child(node, step)
        if node == none or tree.has_key(node) != key:
            return None  # only a key's line and an unkeyed node's are asked for
        return self._start(node)

    def _start(self, node: int) -> int | None:
        """Where a node's text starts as libyaml marks it: a keyed node at its key, a block
        mapping at its first key, a plain or quoted scalar at its first character (on
        the line of its quote). None where that is not known from the tree."""
        if node in self.starts:
            return self.starts[node]
        tree = self.tree
        if tree.has_key(node):
            text = tree.key(node)
            if tree.is_keyval(node):
                value = tree.val(node)
                if value is not None and len(value):
                    # A value is most often unique in the file: found first, it bounds
                    # the search for its key (which ticket's "id:" this one is).
                    hint = self._hint(node)
                    after = self._search(bytes(value), value, hint)
                    if after is not None:
                        found = self._search_back(bytes(text), text, hint, after)
                        if found is not None:
                            return self._remember(node, found)
        elif tree.is_map(node):
            if tree.is_flow(node) or not tree.has_children(node):
                return None
            return self._remember(node, self._start(tree.first_child(node)))
        elif tree.is_val(node) and not (tree.is_val_literal(node) or tree.is_val_folded(node)):
            text = tree.val(node)
        else:
            return None
        if text is None or not len(text):
            return None
        return self._remember(node, self._search(bytes(text), text, self._hint(node)))

    def _remember(self, node: int, start: int | None) -> int | None:
        if start is not None:
            self.starts[node] = start
            if node > self.floor[0]:
                self.floor = (node, start)
        return start

    def _hint(self, node: int) -> int:
        """An offset at or before the node's text: the start of a node before it."""
        if node > self.floor[0]:
            return self.floor[1]
        tree, none = self.tree, self.none
        while True:
            before = tree.prev_sibling(node)
            while before != none:
                if before in self.starts:
                    return self.starts[before]
                before = tree.prev_sibling(before)
            node = tree.parent(node)
            if node == none:
                return 0
            if node in self.starts:
                return self.starts[node]
            if tree.has_key(node):
                found = self._start(node)
                if found is not None:
                    return found

    def _search(self, needle: bytes, text: Any, start: int) -> int | None:
        buffer, view, same = self.buffer, self.view, self.same
        size = len(needle)
        position = buffer.find(needle, start)
        while position >= 0:
            # A scalar's text follows a space, a line break, an indicator or a quote: other
            # places are not tested (if the node is one, its line is found the slow way).
            if (not position or buffer[position - 1] in _BEFORE_SCALAR) and same(
                text, view[position : position + size]
            ):
                return position
            position = buffer.find(needle, position + 1)
        return None

    def _search_back(self, needle: bytes, text: Any, start: int, end: int) -> int | None:
        """:meth:`_search` from ``end`` back to ``start``."""
        buffer, view, same = self.buffer, self.view, self.same
        size = len(needle)
        position = buffer.rfind(needle, start, end)
        while position >= 0:
            if (not position or buffer[position - 1] in _BEFORE_SCALAR) and same(
                text, view[position : position + size]
            ):
                return position
            position = buffer.rfind(needle, start, position)
        return None


_BEFORE_SCALAR = frozenset(b" \n\r-?:,[{'\"")
