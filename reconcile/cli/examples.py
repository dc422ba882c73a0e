"""The examples that end each command's ``--help``: one or two command lines each.

Kept in one table so every command has some (a test walks the command tree) and every
example is checked against the options the command really has.
"""

from __future__ import annotations

import click

EXAMPLES: dict[str, tuple[str, ...]] = {
    "plan": (
        "reconcile plan manifests/",
        "reconcile plan --format markdown --out plan.json --detailed-exitcode > plan.md",
    ),
    "apply": (
        "reconcile apply manifests/ --journal apply.jsonl",
        "reconcile apply --plan plan.json",
    ),
    "drift": (
        "reconcile drift manifests/",
        "reconcile drift --format json --shard 1/4",
    ),
    "whoami": ("reconcile whoami", "reconcile whoami --format json"),
    "sandbox": (
        "reconcile sandbox serve --demo --port 8080",
        "export RECONCILE_TOKEN=$(reconcile sandbox token)",
    ),
    "sandbox serve": (
        "reconcile sandbox serve --demo --port 8080",
        "reconcile sandbox serve --demo --tickets 10000 --latency-ms 20",
    ),
    "sandbox token": (
        "export RECONCILE_TOKEN=$(reconcile sandbox token)",
        "reconcile sandbox token --sub jdoe --role ticket_admin --expires-in 3600",
    ),
    "demo": ("reconcile demo", "reconcile demo my-manifests/"),
    "import": (
        "reconcile import REQ-0509 REQ-0510 -o manifests/imported.yaml",
        "reconcile import --all --prefix REQ --team network --fields priority,Tags",
    ),
    "validate": (
        "reconcile validate",
        "reconcile validate manifests/ --schema reconcile.lock.yaml",
    ),
    "schema": (
        "reconcile schema pull",
        "reconcile schema json > manifests/.reconcile.schema.json",
    ),
    "schema pull": ("reconcile schema pull", "reconcile schema pull -o staging.lock.yaml"),
    "schema json": ("reconcile schema json > manifests/.reconcile.schema.json",),
    "adopt": ("reconcile adopt manifests/ --dry-run", "reconcile adopt --target REQ-0509"),
    "undo": (
        "reconcile undo --journal apply.jsonl",
        "reconcile undo --journal apply.jsonl --auto-approve",
    ),
    "watch": (
        "reconcile watch manifests/ --interval 600",
        "reconcile watch --self-heal --max-changes 10 --listen 0.0.0.0:9464",
    ),
}
"""Command path (``"sandbox serve"``) → example command lines."""


def add_examples(command: click.Command, path: str = "") -> None:
    """Set the ``--help`` epilog of ``command`` and its subcommands from :data:`EXAMPLES`."""
    if path in EXAMPLES:
        # \b keeps click from re-flowing the lines into one paragraph.
        command.epilog = "\b\nExamples:\n" + "\n".join(f"  $ {line}" for line in EXAMPLES[path])
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            add_examples(sub, f"{path} {name}".strip())
