"""What an API key may do: its scopes, and the agents it is limited to.

Every route an API key can reach declares exactly one scope (``vocable.api.deps``);
``admin`` holds every scope. Dashboard users are not scoped: their role decides.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from vocable.contracts.errors import ForbiddenError

Scope = Literal[
    "sessions:create",
    "agents:read",
    "agents:write",
    "calls:read",
    "calls:write",
    "knowledge:read",
    "knowledge:write",
    "mcp:read",
    "mcp:write",
    "voices:read",
    "voices:write",
    "webhooks:read",
    "webhooks:write",
    "admin",
]
SCOPES: tuple[Scope, ...] = get_args(Scope)
"""Every scope, in the order the dashboard and the docs list them."""
ADMIN: Scope = "admin"
FULL_ACCESS: tuple[Scope, ...] = (ADMIN,)
"""What a key created before scopes existed holds, and the API's default."""
SESSIONS_ONLY: tuple[Scope, ...] = ("sessions:create",)
"""The dashboard's and the CLI's default: a backend that only starts calls."""
MAX_AGENT_IDS = 100


def normalise_scopes(values: Iterable[str]) -> list[Scope]:
    """Known scopes, de-duplicated, in ``SCOPES`` order; ``ValueError`` for anything else."""
    given = list(values)
    if not given:
        raise ValueError("give at least one scope")
    unknown = [v for v in given if v not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}; valid scopes: {', '.join(SCOPES)}")
    return [s for s in SCOPES if s in given]


class InsufficientScope(ForbiddenError):
    def __init__(self, scope: Scope) -> None:
        super().__init__(
            "insufficient_scope",
            f"This API key lacks the scope {scope!r} that this request needs",
            errors=[{"field": "scope", "message": f"requires {scope}"}],
        )
        self.scope = scope


class AgentNotAllowed(ForbiddenError):
    def __init__(self, agent_id: str | None) -> None:
        if agent_id is None:
            message = (
                "This API key is limited to some agents; organisation-wide routes need a key "
                "that is not limited to agents"
            )
        else:
            message = f"This API key is not allowed to use agent {agent_id!r}"
        super().__init__("agent_not_allowed", message)


@dataclass(frozen=True)
class KeyAccess:
    """An API key's grant: its scopes and the agents it is limited to (empty: every agent)."""

    scopes: frozenset[str]
    agent_ids: frozenset[str] = frozenset()

    @classmethod
    def of(cls, scopes: Collection[str], agent_ids: Collection[str]) -> KeyAccess:
        return cls(scopes=frozenset(scopes), agent_ids=frozenset(agent_ids))

    @property
    def limited(self) -> bool:
        return bool(self.agent_ids)

    def allows(self, scope: Scope) -> bool:
        return ADMIN in self.scopes or scope in self.scopes

    def require(self, scope: Scope) -> None:
        if not self.allows(scope):
            raise InsufficientScope(scope)

    def allows_agent(self, agent_id: str) -> bool:
        return not self.agent_ids or agent_id in self.agent_ids

    def require_agent(self, agent_id: str) -> None:
        if not self.allows_agent(agent_id):
            raise AgentNotAllowed(agent_id)

    def require_all_agents(self) -> None:
        """Organisation-wide routes (the voice library, webhooks, a new agent)."""
        if self.limited:
            raise AgentNotAllowed(None)
