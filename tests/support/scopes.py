"""The scope each route declares (walked from the app) and the table docs/api.md shows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from vocable.api.deps import RequireScope, get_api_key, get_principal

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@dataclass(frozen=True)
class RouteScope:
    method: str
    path: str
    scope: str | None
    """The one scope declared; ``None`` when the route declares none."""
    scopes: tuple[str, ...]
    """Every scope found in its dependencies (a route must declare exactly one)."""
    org_wide: bool
    in_schema: bool

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _calls(dependant: Dependant) -> list[object]:
    found: list[object] = []
    for sub in dependant.dependencies:
        found.append(sub.call)
        found.extend(_calls(sub))
    return found


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.128)
            yield from api_routes(route.original_router.routes)


def key_routes(app: FastAPI) -> list[RouteScope]:
    """Every route an API key can reach: through ``get_principal`` or ``get_api_key``, or
    a lean route that checks its key itself and declares its scope as ``x-scope``."""
    out = []
    for route in api_routes(app.routes):
        calls = _calls(route.dependant)
        own = (route.openapi_extra or {}).get("x-scope")
        if get_principal not in calls and get_api_key not in calls and own is None:
            continue
        markers = [c for c in calls if isinstance(c, RequireScope)]
        scopes = tuple(sorted({m.scope for m in markers} | ({own} if own else set())))
        org_wide = any(isinstance(m, RequireScope) and m.org_wide for m in markers)
        for method in sorted(route.methods - {"HEAD"}):
            out.append(
                RouteScope(
                    method=method,
                    path=route.path,
                    scope=scopes[0] if len(scopes) == 1 else None,
                    scopes=scopes,
                    org_wide=org_wide,
                    in_schema=route.include_in_schema,
                )
            )
    return out


_ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)` \| `([a-z:]+)` \| ([^|]+) \|")


@dataclass(frozen=True)
class DocumentedRoute:
    method: str
    path: str
    scope: str
    agents: str
    """``organisation``, ``listing filtered``, ``that agent``, ..."""


def documented_routes() -> list[DocumentedRoute]:
    """The rows of the scope table in docs/api.md."""
    text = API_MD.read_text(encoding="utf-8")
    start = text.index("<!-- scope table -->")
    end = text.index("<!-- end scope table -->")
    return [
        DocumentedRoute(m[1], m[2], m[3], m[4].strip())
        for line in text[start:end].splitlines()
        if (m := _ROW.match(line))
    ]
