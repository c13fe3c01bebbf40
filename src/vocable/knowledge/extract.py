"""Runs :mod:`vocable.knowledge.parse_worker` for one document and reads its answer."""

from __future__ import annotations

import json
import subprocess
import sys

from vocable.knowledge.parsing import Section
from vocable.knowledge.sniff import DocumentRejected
from vocable.settings import Settings


def extract_sections(kind: str, data: bytes, settings: Settings) -> list[Section]:
    """Parse ``data`` in a child process; raises :class:`DocumentRejected` on any failure."""
    timeout = settings.knowledge_parse_timeout_s
    args = [
        sys.executable,
        "-m",
        "vocable.knowledge.parse_worker",
        kind,
        str(settings.knowledge_max_text_chars),
        str(settings.knowledge_max_pages),
        str(settings.knowledge_max_unzipped_bytes),
        str(timeout),
    ]
    try:
        done = subprocess.run(  # noqa: S603 - our own module, fixed arguments
            args, input=data, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise DocumentRejected("parse_timeout", "Reading the document took too long") from None
    if done.returncode != 0:
        raise DocumentRejected(
            "invalid_document", "The document could not be read (parser crashed)"
        )
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise DocumentRejected("invalid_document", "The document could not be read") from None
    if "error" in result:
        raise DocumentRejected(str(result["error"]), str(result["reason"]))
    return [Section(text=s["text"], page=s["page"]) for s in result["sections"]]
