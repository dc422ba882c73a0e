"""reconcile: GitOps for tickets."""

__version__ = "0.1.0"
"""The one place the version is written: ``pyproject.toml`` reads it from here, so
``--version`` and the User-Agent need no installed-metadata lookup (that import alone
costs about as much as a bare interpreter's start)."""
