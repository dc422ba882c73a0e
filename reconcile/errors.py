"""The exceptions reconcile raises, and the exit statuses they map to.

Every error a user can cause or meet derives from :class:`ReconcileError`. Its
message is one line, safe to print as it is: it never carries a secret. The CLI
maps exceptions to exit statuses in one place (``reconcile.cli``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit statuses, following Terraform's ``-detailed-exitcode``."""

    OK = 0
    ERROR = 1
    CHANGES = 2
    SIGINT = 130
    SIGTERM = 143


class ReconcileError(Exception):
    """Root of every error reconcile reports to the user."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, with where it was found.

    ``location`` is ``file:line`` for manifests, or a ticket and field name.
    """

    location: str | None
    message: str
    path: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ManifestError(ReconcileError):
    """Raised when manifests cannot be read or do not validate.

    It collects every problem found, so a user fixes all of them in one round.
    """

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.path or "", p.line or 0, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(ReconcileError):
    """Raised for a bad setting: a missing value, a bad file, a secret in the config."""


class AuthError(ReconcileError):
    """Raised when credentials are missing, unusable, or cannot do what the run needs."""


class ApiError(ReconcileError):
    """Raised when a ticketing API request fails: an error answer or no usable answer.

    Not every one is final: callers recover from some subclasses, e.g. apply re-reads
    the ticket after :class:`EtagMismatch` or :class:`OutcomeUnknown`, and reading falls
    back to one GET per ticket after :class:`ListUnsupported`.

    ``code`` is the server's error code (``ETAG_MISMATCH``, ``USER_PERMISSION_FAILURE``
    ...) when it gave one; ``reasons`` maps field UUIDs to validation messages.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        reasons: dict[str, str] | None = None,
    ):
        self.status = status
        self.code = code
        self.reasons = reasons or {}
        super().__init__(message)


class TicketNotFound(ApiError):
    """Raised when a ticket does not exist for the tenant (404)."""


class EtagMismatch(ApiError):
    """Raised when a PATCH was refused because the ticket changed since it was read."""


class OutcomeUnknown(ApiError):
    """Raised when a write may or may not have landed (timeout, reset, 5xx after sending)."""


class PlanError(ReconcileError):
    """Raised when a plan cannot be made, saved, loaded or applied as asked."""


class UnsafePlan(PlanError):
    """Raised when a plan exceeds a safety threshold (``--max-changes``, protected fields)."""


class StalePlan(PlanError):
    """Raised when a saved plan no longer fits its target or its manifests."""


class ListUnsupported(ApiError):
    """Raised when the list endpoint is missing (404) or answers in an unexpected shape.

    Callers fall back to one GET per ticket.
    """
