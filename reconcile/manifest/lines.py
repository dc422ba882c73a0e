"""Lines of manifest files, found by a node's path in its document when asked.

:class:`ComposedLines` answers from the line-numbered node trees of a file read by
:mod:`~reconcile.manifest.yaml12`. :class:`RapidLines` answers for a file read fast
(:mod:`~reconcile.manifest.rapid`): it parses the file again with rapidyaml, whose
nodes point into the text, and counts the line breaks before the node's text. Where
that does not tell the line as libyaml gives it (a flow mapping, a block scalar, a
text that rapidyaml had to rewrite), it reads the file line by line instead, once.
"""

from __future__ import annotations

from typing import Any

from reconcile.manifest import rapid
from reconcile.manifest.model import Steps
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
    """Lines of a file read fast; the file is parsed again on the first question."""

    __slots__ = ("_exact", "_index", "data", "path")

    def __init__(self, path: str, data: bytes):
        self.path = path
        self.data = data
        self._index: _Pointers | None = None
        self._exact: ComposedLines | None = None

    def line(self, document: int, steps: Steps, *, key: bool) -> int:
        if self._exact is None:
            if self._index is None:
                self._index = _Pointers(self.data)
            offset = self._index.offset(document, steps, key=key)
            if offset is not None:
                return self.data.count(b"\n", 0, offset) + 1
            self._exact = self._compose()
        return self._exact.line(document, steps, key=key)

    def release(self) -> None:
        """Forget the parsed copy (it is made again if another line is asked for)."""
        self._index = None

    def _compose(self) -> ComposedLines:
        text = self.data.decode("utf-8")
        documents = Composer(text, self.path, []).documents() or []
        return ComposedLines(self.path, documents)


class _Pointers:
    """rapidyaml's tree of a file parsed in place: a scalar's text lies in the buffer."""

    def __init__(self, data: bytes):
        self.buffer = bytearray(data)
        self.view = memoryview(self.buffer)
        import ryml

        with rapid.quiet_stderr():
            self.tree = ryml.parse_in_place(self.buffer)
        self.none = ryml.NONE
        # The test of one pointer against another: how a node's offset is told.
        self.same: Any = getattr(ryml.ryml, "_same_ptr", None)
        self.starts: dict[int, int] = {}

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
        return start

    def _hint(self, node: int) -> int:
        """An offset at or before the node's text: the start of a node before it."""
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
            if same(text, view[position : position + size]):
                return position
            position = buffer.find(needle, position + 1)
        return None
