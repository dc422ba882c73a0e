"""What changed inside a list or nested value: the items added, removed or moved.

Pure and I/O-free. The renderers show these below a field's ``before → after`` line,
so a reviewer reads ``+ "q4"  - "q3"`` instead of comparing two whole lists:

- a ``multiselect`` is a set: the options added and removed, order ignored;
- a list of plain values (an ``array``) is ordered: the items inserted (at their
  position in the new list), removed (at their position in the old one) and moved;
- anything else (objects, lists of objects: field types this client does not know)
  is described path by path: each key or index added, removed or changed.

DeepDiff finds the differences. It is imported only when a value has something
inside to describe: it costs about 80 ms at start-up.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from reconcile._strenum import StrEnum
from reconcile.schema import json_equal

_PLAIN = (str, int, float, bool, type(None))
"""Items an ordered list is diffed item by item for (and moves found among)."""


class ItemKind(StrEnum):
    """What happened to one item or path inside a value."""

    ADDED = "added"
    REMOVED = "removed"
    MOVED = "moved"
    """Present in both lists, at another position (ordered lists only)."""
    CHANGED = "changed"
    """A path of a nested value holds another value (``old`` → ``value``)."""


@dataclass(frozen=True)
class ItemChange:
    """One difference inside a value.

    ``before_at`` and ``after_at`` are 0-based positions in the old and the new list
    (ordered lists: removed and moved items have ``before_at``, added and moved ones
    ``after_at``); ``path`` is where in a nested value (keys and indexes), empty for
    the items of a top-level list.
    """

    kind: ItemKind
    value: Any
    """The item (added, removed, moved) or the new value at ``path`` (changed)."""
    old: Any = None
    """The value that was at ``path`` (changed only)."""
    before_at: int | None = None
    after_at: int | None = None
    path: tuple[str | int, ...] = ()


def changes_inside(field_type: str | None, before: Any, after: Any) -> tuple[ItemChange, ...]:
    """What changed inside ``before`` to make ``after``, for a field of ``field_type``.

    Empty when there is nothing inside to describe: a scalar, an empty side (the whole
    value is added or cleared), or one side a list and the other not.

    Results are remembered by the values' JSON text: a DeepDiff call costs a fraction
    of a millisecond, a policy gives thousands of tickets the same change, and a run
    may render its plan twice (the text plan and the job summary).
    """
    if not before or not after:
        return ()
    if not (isinstance(before, (list, dict)) and isinstance(after, (list, dict))):
        return ()
    try:
        texts = json.dumps(before, sort_keys=True), json.dumps(after, sort_keys=True)
    except (TypeError, ValueError):  # not JSON (a caller's own value): not remembered
        return _changes(field_type, before, after)
    return _changes_of_json(field_type, *texts)


@functools.lru_cache(maxsize=4096)
def _changes_of_json(field_type: str | None, before: str, after: str) -> tuple[ItemChange, ...]:
    return _changes(field_type, json.loads(before), json.loads(after))


def _changes(field_type: str | None, before: Any, after: Any) -> tuple[ItemChange, ...]:
    if isinstance(before, list) and isinstance(after, list):
        if field_type == "multiselect":
            return _set_changes(before, after)
        if _all_plain(before) and _all_plain(after):
            return _ordered_changes(before, after)
        return _nested_changes(before, after)
    if isinstance(before, dict) and isinstance(after, dict):
        return _nested_changes(before, after)
    return ()


def _all_plain(items: Iterable[Any]) -> bool:
    return all(isinstance(item, _PLAIN) for item in items)


def _set_changes(before: list[Any], after: list[Any]) -> tuple[ItemChange, ...]:
    """Options added (in the new list's order), then options removed (in the old one's)."""
    tree = _tree(before, after, ignore_order=True, cutoff_intersection_for_pairs=0)
    added = [
        (level.t2, _index(level, use_t2=True)) for level in tree.get("iterable_item_added", ())
    ]
    removed = [(level.t1, _index(level)) for level in tree.get("iterable_item_removed", ())]
    # ignore_order pairs a removed and an added plain value as one "changed" value.
    for level in tree.get("values_changed", ()):
        added.append((level.t2, _index(level, use_t2=True)))
        removed.append((level.t1, _index(level)))
    return tuple(
        [ItemChange(ItemKind.ADDED, value) for value, _ in sorted(added, key=_position)]
        + [ItemChange(ItemKind.REMOVED, value) for value, _ in sorted(removed, key=_position)]
    )


def _ordered_changes(before: list[Any], after: list[Any]) -> tuple[ItemChange, ...]:
    """Items inserted, removed and moved, each group in the order of its positions.

    DeepDiff reports an ordered list's differences as items added, removed and changed
    in place; a value changed in place is its old item removed and its new one added.
    An item removed at one position and an equal one added at another is a move.
    """
    tree = _tree(before, after)
    removed: list[tuple[int, Any]] = []
    added: list[tuple[int, Any]] = []
    for report, levels in tree.items():
        for level in levels:
            if report in ("iterable_item_removed", "values_changed", "type_changes"):
                removed.append((_index(level), level.t1))
            if report in ("iterable_item_added", "values_changed", "type_changes"):
                added.append((_index(level, use_t2=True), level.t2))
    removed.sort(key=lambda item: item[0])
    added.sort(key=lambda item: item[0])
    moved: list[ItemChange] = []
    for old_at, value in list(removed):
        match = next((new for new in added if _same(new[1], value)), None)
        if match is not None:
            added.remove(match)
            removed.remove((old_at, value))
            moved.append(ItemChange(ItemKind.MOVED, value, before_at=old_at, after_at=match[0]))
    moved = _fewest_moves(before, after, removed, added, moved)
    moved.sort(key=lambda item: item.after_at or 0)
    return tuple(
        [ItemChange(ItemKind.ADDED, value, after_at=at) for at, value in added]
        + [ItemChange(ItemKind.REMOVED, value, before_at=at) for at, value in removed]
        + moved
    )


MINIMIZED_MOVES = 200
"""Above this many moves in one list, DeepDiff's pairing is shown as it is."""


def _fewest_moves(
    before: list[Any],
    after: list[Any],
    removed: list[tuple[int, Any]],
    added: list[tuple[int, Any]],
    moved: list[ItemChange],
) -> list[ItemChange]:
    """``moved`` without the moves that are not needed.

    DeepDiff compares an ordered list either along the longest matching blocks or
    position by position, whichever reports fewer differences; position by position,
    ``[a, b, c]`` → ``[c, a, x]`` moves both ``a`` and ``c``. A move is dropped when
    the items that stay in place, with that one among them, still read the same in
    both lists: the shortest moves are tried first, so the item that travels is named.
    """
    if len(moved) > MINIMIZED_MOVES:
        return moved
    left = {at for at, _ in removed} | {m.before_at for m in moved}
    entered = {at for at, _ in added} | {m.after_at for m in moved}
    needed: list[ItemChange] = []
    for move in sorted(moved, key=lambda m: abs((m.after_at or 0) - (m.before_at or 0))):
        left.discard(move.before_at)
        entered.discard(move.after_at)
        if not _same_order(before, left, after, entered):
            left.add(move.before_at)
            entered.add(move.after_at)
            needed.append(move)
    return needed


def _same_order(
    before: list[Any], left: set[int | None], after: list[Any], entered: set[int | None]
) -> bool:
    """True when the items of ``before`` not in ``left`` are those of ``after`` not in
    ``entered``, in the same order."""
    stayed = [v for n, v in enumerate(before) if n not in left]
    arrived = [v for n, v in enumerate(after) if n not in entered]
    return len(stayed) == len(arrived) and all(map(_same, stayed, arrived))


def _nested_changes(before: Any, after: Any) -> tuple[ItemChange, ...]:
    """Each path added, removed or changed, in path order; the whole value changed when
    only a boolean became a number or back (DeepDiff, told that ``1`` equals ``1.0``,
    takes ``true`` for ``1`` too)."""
    found: list[ItemChange] = []
    for report, levels in _tree(before, after).items():
        for level in levels:
            if report.endswith("_added"):
                path = tuple(level.path(output_format="list", use_t2=True))
                found.append(ItemChange(ItemKind.ADDED, level.t2, path=path))
            elif report.endswith("_removed"):
                path = tuple(level.path(output_format="list"))
                found.append(ItemChange(ItemKind.REMOVED, level.t1, path=path))
            else:  # values_changed, type_changes
                path = tuple(level.path(output_format="list"))
                new_path = tuple(level.path(output_format="list", use_t2=True))
                if new_path == path:
                    found.append(ItemChange(ItemKind.CHANGED, level.t2, old=level.t1, path=path))
                else:  # a list item paired with one at another index: say both ends
                    found.append(ItemChange(ItemKind.REMOVED, level.t1, path=path))
                    found.append(ItemChange(ItemKind.ADDED, level.t2, path=new_path))
    if not found and not json_equal(before, after):
        return (ItemChange(ItemKind.CHANGED, after, old=before),)
    return tuple(sorted(found, key=lambda item: _path_key(item.path)))


def _tree(before: Any, after: Any, **options: Any) -> Any:
    """DeepDiff's tree view; ``options`` as for DeepDiff (``ignore_order`` for a set,
    with ``cutoff_intersection_for_pairs=0``: an option removed is not "changed into"
    one added, so no time goes into pairing them)."""
    # Imported here: deepdiff costs ~80 ms at start-up; only a plan with a list or
    # nested change to show pays for it.
    from deepdiff import DeepDiff

    return DeepDiff(
        before,
        after,
        ignore_numeric_type_changes=True,  # as Field.equal compares: 1 equals 1.0
        view="tree",
        **options,
    )


def _index(level: Any, *, use_t2: bool = False) -> int:
    """The position of a top-level list item that DeepDiff reports."""
    path = level.path(output_format="list", use_t2=use_t2)
    return int(path[0])


def _position(item: tuple[Any, int]) -> int:
    return item[1]


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: ``1 == 1.0``, but ``True`` is not ``1``."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _path_key(path: tuple[str | int, ...]) -> tuple[tuple[int, int, str], ...]:
    """Paths sorted as written: indexes by number, keys by text, a parent before its children."""
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in path)
