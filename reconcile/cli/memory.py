"""The C allocator's setting for commands that read a tenant's tickets (glibc only)."""

from __future__ import annotations

import sys

MMAP_THRESHOLD = 128 * 1024
"""Blocks this large or larger get a mapping of their own, returned when freed."""
_M_MMAP_THRESHOLD = -3
"""``M_MMAP_THRESHOLD`` of glibc's ``malloc.h``."""


def keep_large_blocks_mapped() -> None:
    """Have glibc serve every block of :data:`MMAP_THRESHOLD` or more from a mapping.

    glibc raises its threshold to the size of the largest mapped block freed (up to
    32 MiB): once one list page (0.8 MB of JSON) or one manifest's JSON form is freed,
    the next ones are carved from the heaps of the reading threads, between tickets that
    live on, and their memory stays with the process. The peak RSS of a plan of 50,000
    tickets went from 220 to 186 MB (10,000: 87 to 78 MB), in the same time: the
    manifest readers reuse their rapidyaml trees, which would otherwise map memory anew
    for every file. A process setting, so the CLI makes it, not the library. Elsewhere
    than glibc it does nothing (musl's ``mallopt`` ignores it; other systems have none).
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # ~2.5 ms: imported only by the commands that read tickets

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
