"""Error responses in the OpenAPI document, declared once for every operation.

Generated clients and the API reference should show what an operation can answer besides
success, with the body it gets (``ErrorEnvelope``). Routers declare the statuses that
apply to all their operations (``error_responses``, passed where ``create_app`` includes
them); a route adds its own (409, 411, 413, 415, 429, 502...) either the same way or as a
bare ``{status: {}}``. When the document is built, ``install_openapi``:

- gives every declared error status the envelope schema (and ``Retry-After`` for 429 and
  503), bare ones included, and replaces FastAPI's own 422 body, which we never send;
- adds 404 to every operation with a path parameter (unknown id, or another
  organisation's);
- drops FastAPI's validation-error schemas once nothing refers to them;
- adds the schemas of bodies that lean routes read themselves (``own_body``).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

_SCHEMA_NAME = "ErrorEnvelope"
_REF = {"$ref": f"#/components/schemas/{_SCHEMA_NAME}"}


class ErrorEnvelope(BaseModel):
    """The body of every error response (``vocable.api.errors.envelope``)."""

    model_config = ConfigDict(use_attribute_docstrings=True)
    success: Literal[False]
    message: str
    """For people; never echoes a rejected value."""
    code: str
    """Machine-readable, e.g. ``invalid_request``, ``agent_not_found``, ``rate_limited``."""
    errors: list[dict[str, str]]
    """Details, e.g. ``[{"field": "language", "message": "..."}]``; may be empty."""


_DESCRIPTIONS = {
    401: "No credential, or an unknown, revoked or expired one",
    403: "Refused: the API key's allowed origins or IP ranges, or no valid CSRF token on a "
    "dashboard write",
    404: "Not found, or another organisation's",
    409: "Conflicts with the current state or a limit",
    411: "Content-Length required",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid request: `errors` names each field",
    429: "A rate or concurrency limit was reached; retry after `Retry-After` seconds",
    502: "An upstream server could not be reached or answered wrongly",
    503: "Temporarily unavailable (the database or LiveKit is down, or the process is "
    "overloaded); retry after `Retry-After` seconds",
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
}


def _extras(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {"description": _DESCRIPTIONS.get(status, "Error")}
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    return response


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for ``statuses``, each with the error envelope."""
    return {status: {"model": ErrorEnvelope, **_extras(status)} for status in statuses}


_OWN_BODIES: dict[str, type[BaseModel]] = {}


def own_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that parses its JSON body itself (no body parameter
    for FastAPI to document): the request body, its schema under components."""
    _OWN_BODIES[model.__name__] = model
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def _add_own_bodies(schemas: dict[str, Any], used: str) -> None:
    for name, model in _OWN_BODIES.items():
        if f"#/components/schemas/{name}" not in used:
            continue
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for inner, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(inner, definition)
        schemas.setdefault(name, schema)


def _is_error(status: str) -> bool:
    return status.isdigit() and int(status) >= 400


def _declare(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        responses.setdefault("404", {})
    for status in [s for s in responses if _is_error(s)]:
        responses[status] = {
            **_extras(int(status)),
            "content": {"application/json": {"schema": _REF}},
        }


def declare_error_responses(document: dict[str, Any]) -> None:
    """Apply the rules of this module to a generated OpenAPI document, in place."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and "responses" in operation:
                _declare(operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        _SCHEMA_NAME, ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    used = json.dumps(document["paths"])
    _add_own_bodies(schemas, used)
    for name in ("HTTPValidationError", "ValidationError"):  # the second is the first's part
        if f"#/components/schemas/{name}" not in used:
            schemas.pop(name, None)


def install_openapi(app: FastAPI) -> None:
    """Build ``app``'s OpenAPI document with the error responses declared (see above)."""
    generate = app.openapi  # FastAPI's: builds the document once, again if routes change
    declared: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = generate()
        if not declared or declared[0] is not document:
            declare_error_responses(document)
            declared[:] = [document]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
