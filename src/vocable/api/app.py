"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from vocable import __version__
from vocable.api.admission import Admission
from vocable.api.body_limit import BodyLimitMiddleware, BodyLimits
from vocable.api.errors import install_error_handlers
from vocable.api.openapi import error_responses, install_openapi
from vocable.api.routes import (
    agents,
    auth,
    calls,
    internal,
    keys,
    knowledge,
    members,
    meta,
    sessions,
    voices,
)
from vocable.api.routes import audit as audit_routes
from vocable.api.routes import http_tools as http_tool_routes
from vocable.api.routes import livekit_events as livekit_event_routes
from vocable.api.routes import mcp as mcp_routes
from vocable.api.routes import webhooks as webhook_routes
from vocable.api.security_headers import SecurityHeadersMiddleware, security_headers
from vocable.platform import Platform


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(
        title="Vocable API",
        version=__version__,
        description="Self-hostable real-time voice agents.",
        docs_url=None,  # served with the dashboard's copy of Swagger UI (routes.meta)
        redoc_url=None,  # ReDoc would load from a CDN: /docs is the reference
    )
    app.state.platform = platform
    app.state.admission = Admission.from_settings(platform.settings)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits.from_settings(platform.settings))
    app.add_middleware(SecurityHeadersMiddleware, headers=security_headers(platform.settings))
    install_openapi(app)
    # What every operation of a router can answer besides success (the OpenAPI document
    # shows it; routes add their own, and 404 comes with a path parameter): a credential
    # refused (401), a key's allow-lists or a dashboard write's CSRF check (403), invalid
    # input (422), the database or the process overloaded (503).
    signed_in = error_responses(401, 403, 422, 503)
    read_only = error_responses(401, 422, 503)
    own = error_responses()  # declared per route, or not in the document
    # the session route is registered before /api/agents/{agent_id}
    for router, errors in (
        (sessions.router, signed_in),
        (mcp_routes.router, signed_in),
        (http_tool_routes.router, signed_in),
        (auth.router, own),
        (keys.router, signed_in),
        (members.router, signed_in),
        (members.public_router, own),
        (audit_routes.router, read_only),
        (agents.router, signed_in),
        (calls.router, signed_in),
        (internal.router, own),
        (knowledge.router, signed_in),
        (voices.router, signed_in),
        (webhook_routes.router, signed_in),
        (livekit_event_routes.router, own),
        (meta.router, own),
    ):
        app.include_router(router, responses=errors)
    meta.mount_dashboard(app, platform.settings.dashboard_dir)
    return app
