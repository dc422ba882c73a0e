"""The documented, versioned JSON form of a plan (``--format json``)."""

from __future__ import annotations

from typing import TextIO

from reconcile.plan import Plan


def render_json(plan: Plan, out: TextIO) -> None:
    """Write :meth:`Plan.to_data` with sorted keys and indent 2; sensitive values masked.

    The text written is exactly what :attr:`Plan.checksum` is taken of.
    """
    out.write(plan.to_json())
