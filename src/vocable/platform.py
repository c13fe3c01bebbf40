"""The objects one API process shares: settings, secrets, database and encryption."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vocable.data_dir import secure_data_dir
from vocable.db.engine import make_engine, make_session_factory
from vocable.platform_secrets import PlatformSecrets, load_or_create_secrets
from vocable.security.crypto import SecretBox
from vocable.settings import Settings


@dataclass
class Platform:
    settings: Settings
    secrets: PlatformSecrets
    engine: Engine
    sessions: sessionmaker[Session]
    box: SecretBox


def build_platform(settings: Settings) -> Platform:
    secure_data_dir(settings.data_dir)
    secrets = load_or_create_secrets(settings)
    engine = make_engine(settings.resolved_database_url)
    return Platform(
        settings=settings,
        secrets=secrets,
        engine=engine,
        sessions=make_session_factory(engine),
        box=SecretBox(key=secrets.encryption_key),
    )
