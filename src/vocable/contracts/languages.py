"""BCP-47 language tags: validation and normalisation."""

from __future__ import annotations

import langcodes


def normalise_language(tag: str) -> str:
    """Return the standard form of a valid BCP-47 tag (``EN-us`` → ``en-US``).

    Raises ``ValueError`` with a readable reason for anything else.
    """
    stripped = tag.strip()
    if not stripped or len(stripped) > 35 or not langcodes.tag_is_valid(stripped):
        raise ValueError("must be a BCP-47 language tag such as 'en' or 'es-MX'")
    return str(langcodes.standardize_tag(stripped))
