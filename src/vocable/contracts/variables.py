"""``{{variables}}`` in an agent's prompt and greeting, filled for each call.

A placeholder is ``{{name}}`` (letters, digits and ``_``; spaces inside the braces are
allowed). Values come, in order of precedence, from the session's ``metadata`` (its
string, number and boolean values), then the agent's ``variable_defaults``. The
``system.`` names are always there: ``system.date``, ``system.time``, ``system.timezone``
(in the agent's time zone, when the session is created) and ``system.language`` (the
call's language). A placeholder with no value refuses the session (422 naming it).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PLACEHOLDER = re.compile(
    r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63}(?:\.[A-Za-z_][A-Za-z0-9_]{0,63})?)\s*\}\}"
)
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
SYSTEM_NAMES = frozenset({"system.date", "system.time", "system.timezone", "system.language"})
MAX_DEFAULTS = 50
MAX_VALUE_CHARS = 500


def placeholders(*texts: str) -> set[str]:
    """The variable names the texts use."""
    return {m.group(1) for text in texts for m in PLACEHOLDER.finditer(text)}


def unknown_system_names(*texts: str) -> list[str]:
    """``system.`` names the texts use that do not exist (a typo, caught when saving)."""
    return sorted(n for n in placeholders(*texts) if "." in n and n not in SYSTEM_NAMES)


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with every placeholder that has a value replaced by it."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("an IANA time zone such as Europe/Madrid or UTC") from None
    return value


def check_defaults(values: dict[str, str]) -> dict[str, str]:
    if len(values) > MAX_DEFAULTS:
        raise ValueError(f"at most {MAX_DEFAULTS} variables")
    for name, value in values.items():
        if not NAME.match(name):
            raise ValueError("names are letters, digits and _ (not starting with a digit)")
        if len(value) > MAX_VALUE_CHARS or "\x00" in value:
            raise ValueError(f"values are at most {MAX_VALUE_CHARS} characters")
    return values


def system_values(timezone: str, language: str, now: datetime) -> dict[str, str]:
    local = now.astimezone(ZoneInfo(timezone))
    return {
        "system.date": local.strftime("%A, %d %B %Y"),
        "system.time": local.strftime("%H:%M"),
        "system.timezone": timezone,
        "system.language": language,
    }


def call_values(
    metadata: dict[str, Any], defaults: dict[str, str], system: dict[str, str]
) -> dict[str, str]:
    """Every value a call's placeholders may take: metadata over defaults; system names
    cannot be overridden."""
    given = {
        k: ("true" if v else "false") if isinstance(v, bool) else str(v)
        for k, v in metadata.items()
        if isinstance(v, str | int | float | bool) and NAME.match(k)
    }
    return {**defaults, **given, **system}
