"""One error envelope for every response: ``{"success": false, "message", "errors"}``.

Bodies never contain request values: a rejected field is named, not echoed, since it
may be a prompt or a secret header.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from vocable.contracts.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidError,
    LimitError,
    NotFoundError,
    TooLargeError,
    UnavailableError,
    UnsupportedError,
    UpstreamError,
)

log = logging.getLogger("vocable.api")


class ApiError(Exception):
    """An error a client should see, with its HTTP status and machine-readable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []
        self.headers = headers


# the one place where a domain error becomes an HTTP status (most specific kind first)
_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (UnsupportedError, 415),
    (InvalidError, 422),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (TooLargeError, 413),
    (LimitError, 429),
    (UnavailableError, 503),
    (UpstreamError, 502),
)


def status_of(error: DomainError) -> int:
    """The HTTP status of a domain error's kind (a kind not listed is a server bug)."""
    return next((status for kind, status in _STATUS if isinstance(error, kind)), 500)


def envelope(code: str, message: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"success": False, "message": message, "code": code, "errors": errors or []}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        field = _field_name(tuple(err.get("loc", ())))
        message = str(err.get("msg", "invalid value"))
        if err.get("type") == "json_invalid":
            field, message = "body", "request body is not valid JSON"
        out.append({"field": field, "message": message.removeprefix("Value error, ")})
    return out


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    # Task boundary: log the type and traceback, never the request, return a bare 500.
    log.error("unhandled error", exc_info=exc)
    return JSONResponse(envelope("internal_error", "Internal server error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            envelope(exc.code, exc.message, exc.errors), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return JSONResponse(
            envelope(exc.code, exc.message, exc.errors),
            status_code=status_of(exc),
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return JSONResponse(
            envelope("invalid_request", f"Invalid request: check {fields}", errors),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:  # a body cut off past its limit (api/body_limit.py)
            errors = [{"field": "body", "message": str(exc.detail)}]
            return JSONResponse(
                envelope("too_large", str(exc.detail), errors),
                status_code=413,
                headers={"Connection": "close"},
            )
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot decode (not UTF-8, broken multipart):
            # the same 422 as a body that is not JSON
            errors = [{"field": "body", "message": "request body could not be parsed"}]
            return JSONResponse(
                envelope("invalid_request", "Invalid request: check body", errors),
                status_code=422,
            )
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            envelope(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    async def _db_down(_: Request, exc: Exception) -> JSONResponse:
        # Task boundary: the database is unreachable, locked, or its connection dropped
        # mid-request, or no pooled connection came free in time; say so without internals.
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        log.warning("database unavailable: %s", type(cause).__name__)
        return JSONResponse(
            envelope("unavailable", "Service temporarily unavailable, retry shortly"),
            status_code=503,
            headers={"Retry-After": "2"},
        )

    for unavailable in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(unavailable, _db_down)

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        # PostgreSQL refuses a value SQLite would take: a NUL character in an id from the
        # path or query, an integer out of range. The client sent it; never a 500.
        log.warning("database refused a value: %s", type(exc.orig).__name__)
        errors = [{"field": "request", "message": "a value contains NUL or is out of range"}]
        return JSONResponse(
            envelope("invalid_request", "Invalid request: a value cannot be stored", errors),
            status_code=422,
        )

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:  # a disconnect the driver reported as another class
            return await _db_down(request, exc)
        return await _unexpected(request, exc)

    app.add_exception_handler(Exception, _unexpected)
