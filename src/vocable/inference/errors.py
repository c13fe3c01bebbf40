"""OpenAI's error shape, ``{"error": {"message", "type", "param", "code"}}``, for every failure.

OpenAI clients (and the livekit-agents openai plugin through them) read ``error.message``
into their exceptions, so every non-2xx answer of this server uses that shape. Messages
name the rejected field, never its value: the value may be a prompt or a transcript.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("vocable.inference")

INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"


class OpenAIError(Exception):
    """An error a client should see, with its HTTP status and OpenAI ``type`` and ``code``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = INVALID_REQUEST,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.headers = headers

    def body(self) -> dict[str, Any]:
        """The JSON body, also sent as an SSE ``data:`` line when a stream fails."""
        return error_body(
            self.message, error_type=self.error_type, code=self.code, param=self.param
        )


def error_body(
    message: str, *, error_type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """``{"error": {...}}`` as OpenAI's API writes it."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def model_not_found(model: str, kind: str) -> OpenAIError:
    """404 for a ``model`` this server does not serve for ``kind`` (chat, transcription...)."""
    return OpenAIError(
        404,
        f"The model {model!r} does not exist or is not a {kind} model; GET /v1/models lists them",
        code="model_not_found",
        param="model",
    )


def engine_unavailable(cause: Exception) -> OpenAIError:
    """503 for an engine that cannot load here; the cause names the package to install."""
    return OpenAIError(503, str(cause), error_type=SERVER_ERROR, code="engine_unavailable")


def engine_failed(what: str) -> OpenAIError:
    """500 for an engine that failed on this request (details go to the log)."""
    return OpenAIError(500, f"{what} failed", error_type=SERVER_ERROR, code="engine_failed")


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error, including FastAPI's own, in OpenAI's shape."""

    @app.exception_handler(OpenAIError)
    async def _openai_error(_: Request, exc: OpenAIError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # OpenAI answers a malformed body with 400, not FastAPI's 422.
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(
                error_body("The request body is not valid JSON", error_type=INVALID_REQUEST),
                status_code=400,
            )
        fields = sorted({_field(tuple(e.get("loc", ()))) for e in errors})
        first = str(errors[0].get("msg", "invalid value")) if errors else "invalid value"
        message = f"Invalid value for {', '.join(fields)}: {first.removeprefix('Value error, ')}"
        body = error_body(message, error_type=INVALID_REQUEST, param=fields[0] if fields else None)
        return JSONResponse(body, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return JSONResponse(
            error_body(str(exc.detail), error_type=INVALID_REQUEST, code=code),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Task boundary: log the traceback (never the request), answer a bare 500.
        log.error("unhandled error", exc_info=exc)
        return JSONResponse(
            error_body("Internal server error", error_type=SERVER_ERROR), status_code=500
        )
