"""``reconcile sandbox``: run the local emulator of the ticketing API."""

from __future__ import annotations

import click


@click.group()
def sandbox() -> None:
    """Run a local emulator of the ticketing API (the playground and the test server)."""
