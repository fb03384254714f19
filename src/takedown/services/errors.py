"""Errors that use cases raise. Entrypoints map them to HTTP statuses and exit codes.

Exception tree (with the identity errors services also raise)::

    ServiceError
    ├── NotFound        the named thing does not exist (404)
    ├── Conflict        it exists already, or its state forbids the change (409)
    ├── InvalidInput    a value breaks a rule the schema cannot express (422)
    ├── Busy            capacity for this kind of work is full; try again soon (503)
    └── RateLimited     too many attempts from this caller; try again later (429)
    takedown.identity.IdentityError
    ├── NotAuthenticated (401)
    ├── Forbidden        (403)
    └── WeakPassword     (422)
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the use-case errors. ``code`` is a stable machine-readable name."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class StateConflict(Conflict):
    """The thing's state forbids the change; ``code`` names which rule (a filing's)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class InvalidInput(ServiceError):
    code = "invalid_input"


class Busy(ServiceError):
    """Capacity for this kind of work is full. ``retry_after``: seconds worth waiting."""

    code = "busy"

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(ServiceError):
    """Too many attempts from this caller. ``retry_after``: seconds until one is allowed."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
