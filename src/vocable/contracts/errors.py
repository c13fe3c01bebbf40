"""Errors the product's operations raise: what went wrong, in the product's words.

They carry a machine-readable ``code``, a human ``message``, the fields at fault and, for
limits, when to retry; never an HTTP status. ``vocable.api.errors`` alone maps each kind
to its status and the JSON envelope; the CLI prints them.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal an operation reports to its caller."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        errors: list[dict[str, str]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors or []
        self.retry_after = retry_after
        """Seconds after which the same request may succeed (limits, outages)."""


class InvalidError(DomainError):
    """The request names something that cannot be (a field's value, a refused URL)."""


class UnsupportedError(InvalidError):
    """The request's content is of a kind the product does not take (a file type)."""


class ForbiddenError(DomainError):
    """The caller is known but their role does not allow this."""


class NotFoundError(DomainError):
    """What the request names does not exist, or belongs to another organisation."""


class ConflictError(DomainError):
    """The request conflicts with the current state: a quota reached, work in progress."""


class TooLargeError(DomainError):
    """The request's content exceeds a size limit."""


class LimitError(DomainError):
    """A rate or concurrency limit refuses the request for now (see ``retry_after``)."""


class UnavailableError(DomainError):
    """A service the operation needs is down; retrying later may succeed."""


class UpstreamError(DomainError):
    """A server the business configured (an MCP server, its HTTP API) failed to answer."""


def field_error(
    cls: type[DomainError], code: str, field: str, message: str, *, summary: str | None = None
) -> DomainError:
    """An error of kind ``cls`` whose one fault is ``field``; ``summary`` is the top-level
    message when it differs from the field's."""
    return cls(code, summary or message, errors=[{"field": field, "message": message}])
