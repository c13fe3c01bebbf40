"""Overlapping chunks that never cross a page, so every chunk has one source page."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vocable.knowledge.parsing import Section

_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BREAKS = ("\n", ". ", "? ", "! ", "; ", ", ", " ")


@dataclass(frozen=True)
class Chunk:
    text: str
    page: int | None


def normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def chunk_sections(sections: list[Section], *, size: int, overlap: int) -> list[Chunk]:
    """Split each section into pieces of at most ``size`` characters, consecutive pieces
    sharing about ``overlap`` characters; cuts prefer line, sentence, then word ends."""
    overlap = min(overlap, size // 2)
    chunks: list[Chunk] = []
    for section in sections:
        text = normalise(section.text)
        start = 0
        while start < len(text):
            end = min(len(text), start + size)
            if end < len(text):
                end = _cut(text, start, end, size)
            piece = text[start:end].strip()
            if piece:
                chunks.append(Chunk(text=piece, page=section.page))
            if end >= len(text):
                break
            start = max(end - overlap, start + 1)
            # begin the overlap on a word boundary
            space = text.find(" ", start, end)
            if 0 <= space < end - 1 and space - start < overlap // 2:
                start = space + 1
    return chunks


def _cut(text: str, start: int, end: int, size: int) -> int:
    floor = start + size // 2
    for mark in _BREAKS:
        at = text.rfind(mark, floor, end)
        if at != -1:
            return at + len(mark)
    return end
