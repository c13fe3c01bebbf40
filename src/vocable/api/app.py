"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from vocable import __version__
from vocable.api.errors import install_error_handlers
from vocable.api.routes import agents, auth, internal, keys, knowledge, meta, sessions, voices
from vocable.api.routes import audit as audit_routes
from vocable.api.routes import livekit_events as livekit_event_routes
from vocable.api.routes import mcp as mcp_routes
from vocable.api.routes import webhooks as webhook_routes
from vocable.platform import Platform


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(
        title="Vocable API",
        version=__version__,
        description="Self-hostable real-time voice agents.",
    )
    app.state.platform = platform
    install_error_handlers(app)
    # the session route is registered before /api/agents/{agent_id}
    for router in (
        sessions.router,
        mcp_routes.router,
        auth.router,
        keys.router,
        audit_routes.router,
        agents.router,
        agents.records,
        internal.router,
        knowledge.router,
        voices.router,
        webhook_routes.router,
        livekit_event_routes.router,
        meta.router,
    ):
        app.include_router(router)
    meta.mount_dashboard(app, platform.settings.dashboard_dir)
    return app
