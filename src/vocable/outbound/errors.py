"""The one error every outbound refusal raises, with a machine-readable reason.

Messages are written for the customer who supplied the URL and never contain any part
of it: not the credentials, not the query string (it may hold a token), not the path.
"""

from __future__ import annotations

from enum import StrEnum


class RefusalReason(StrEnum):
    """Why an outbound fetch was refused; the value is the stable machine-readable code."""

    INVALID_URL = "invalid_url"
    URL_TOO_LONG = "url_too_long"
    SCHEME_NOT_ALLOWED = "scheme_not_allowed"
    CREDENTIALS_IN_URL = "credentials_in_url"
    PORT_NOT_ALLOWED = "port_not_allowed"
    HOST_NOT_ALLOWED = "host_not_allowed"
    PRIVATE_ADDRESS = "private_address"
    DNS_FAILED = "dns_failed"
    CONNECTION_FAILED = "connection_failed"
    TLS_FAILED = "tls_failed"
    TIMEOUT = "timeout"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BAD_REDIRECT = "bad_redirect"
    HTTP_STATUS = "http_status"
    UNEXPECTED_CONTENT_TYPE = "unexpected_content_type"
    TOO_LARGE = "too_large"


# Failures that may pass on their own; everything else is a property of the URL or policy.
_RETRYABLE = {
    RefusalReason.DNS_FAILED,
    RefusalReason.CONNECTION_FAILED,
    RefusalReason.TIMEOUT,
}


class OutboundRefused(Exception):
    """An outbound URL was refused or its fetch failed; ``reason`` says why.

    The API maps this to a 422 naming the request field that held the URL. ``status`` is
    the upstream HTTP status for ``http_status`` refusals.
    """

    def __init__(self, reason: RefusalReason, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status

    @property
    def retryable(self) -> bool:
        """Whether trying the same URL again later might succeed."""
        if self.reason is RefusalReason.HTTP_STATUS:
            return self.status is not None and (self.status >= 500 or self.status == 429)
        return self.reason in _RETRYABLE

    def __repr__(self) -> str:
        return f"OutboundRefused(reason={self.reason.value!r}, message={self.message!r})"
