"""Starts the delivery thread with the API and stops it on shutdown (router lifespan)."""

from __future__ import annotations

from vocable.platform import Platform
from vocable.webhooks.delivery import WebhookDispatcher


def start_dispatcher(platform: Platform) -> WebhookDispatcher | None:
    """A running dispatcher, or ``None`` where ``webhook_dispatch`` is off."""
    if not platform.settings.webhook_dispatch:
        return None
    dispatcher = WebhookDispatcher(
        sessions=platform.sessions, box=platform.box, settings=platform.settings
    )
    dispatcher.start()
    return dispatcher
