"""Manifests: YAML files that declare ticket field values, read with line numbers.

Reading happens in three steps, each collecting every problem before raising one
:class:`~reconcile.errors.ManifestError`, so a user fixes all of them in one round:

1. :func:`find_manifest_files` turns the paths given into a sorted list of files
   (:mod:`~reconcile.manifest.files`).
2. :func:`parse_manifest` / :func:`load_manifests` turn YAML into
   :class:`DeclaredTicket` objects, keys as written, no schema needed
   (:mod:`~reconcile.manifest.parse`, on top of :mod:`~reconcile.manifest.yaml12`).
3. :func:`resolve_tickets` resolves keys against the ticket-type schema and checks
   values, giving :class:`DesiredTicket` objects keyed by field UUID
   (:mod:`~reconcile.manifest.resolve`, making those of :mod:`~reconcile.manifest.desired`).
"""

import importlib
from typing import TYPE_CHECKING, Any

from reconcile.manifest.files import (
    MANIFEST_SUFFIXES,
    MAX_FILE_BYTES,
    TOOL_FILES,
    find_manifest_files,
)
from reconcile.manifest.model import (
    DeclaredField,
    DeclaredPolicy,
    DeclaredTicket,
    Location,
    Manifests,
)
from reconcile.manifest.parse import (
    DEFAULTS_KEYS,
    DOCUMENT_KEYS,
    POLICY_KEYS,
    SELECT_KEYS,
    TICKET_KEYS,
    load_manifest_set,
    load_manifests,
    parse_manifest,
)
from reconcile.manifest.yaml12 import MAX_ALIAS_EXPANSION, MAX_DEPTH, MAX_SCALAR_CHARS

if TYPE_CHECKING:
    from reconcile.manifest.desired import DesiredTicket, Policy, PolicyRule
    from reconcile.manifest.resolve import resolve_all, resolve_policies, resolve_tickets

_LAZY = {
    **dict.fromkeys(("resolve_all", "resolve_policies", "resolve_tickets"), "resolve"),
    **dict.fromkeys(("DesiredTicket", "Policy", "PolicyRule"), "desired"),
}
"""Names exported from the module that holds them, imported when first used (PEP 562):
the resolvers and what they make need the schema, which ``reconcile validate`` without
a schema lock never imports."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "DEFAULTS_KEYS",
    "DOCUMENT_KEYS",
    "MANIFEST_SUFFIXES",
    "MAX_ALIAS_EXPANSION",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_SCALAR_CHARS",
    "POLICY_KEYS",
    "SELECT_KEYS",
    "TICKET_KEYS",
    "TOOL_FILES",
    "DeclaredField",
    "DeclaredPolicy",
    "DeclaredTicket",
    "DesiredTicket",
    "Location",
    "Manifests",
    "Policy",
    "PolicyRule",
    "find_manifest_files",
    "load_manifest_set",
    "load_manifests",
    "parse_manifest",
    "resolve_all",
    "resolve_policies",
    "resolve_tickets",
]
