"""What a document is, decided from its bytes (never from its name alone)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

KINDS = ("pdf", "docx", "html", "markdown", "text")
_MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<title")
_MAX_ZIP_ENTRIES = 2000
_MAX_ZIP_RATIO = 200


class DocumentRejected(Exception):
    """A document we refuse; ``code`` is machine-readable, ``reason`` is for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Sniffed:
    kind: str


def sniff(data: bytes, *, filename: str = "", max_unzipped_bytes: int) -> Sniffed:
    """The document kind of ``data``; raises :class:`DocumentRejected` for anything else.

    The filename only chooses between Markdown and plain text, which are both text.
    """
    if not data:
        raise DocumentRejected("empty_document", "The document is empty")
    head = data[:2048]
    if head.lstrip(b"\xef\xbb\xbf\r\n\t ").startswith(b"%PDF-"):
        return Sniffed("pdf")
    if head.startswith(b"PK\x03\x04"):
        check_docx(data, max_unzipped_bytes=max_unzipped_bytes)
        return Sniffed("docx")
    if not _looks_like_text(head):
        raise DocumentRejected(
            "unsupported_type",
            "Unsupported document type: upload PDF, DOCX, HTML, Markdown or text",
        )
    lowered = head.lower().lstrip(b"\xef\xbb\xbf\r\n\t ")
    if any(marker in lowered for marker in _HTML_MARKERS):
        return Sniffed("html")
    if filename.lower().endswith(_MARKDOWN_SUFFIXES):
        return Sniffed("markdown")
    return Sniffed("text")


def _looks_like_text(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True  # UTF-16 with a byte-order mark
    if b"\x00" in head:
        return False
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls <= len(head) // 100


def check_docx(data: bytes, *, max_unzipped_bytes: int) -> None:
    """Refuse, before any XML is parsed, a ZIP that is not a Word document or that would
    expand beyond ``max_unzipped_bytes`` (a zip bomb: size, ratio or entry count)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as e:
        raise DocumentRejected("invalid_document", "The DOCX file is not a valid ZIP") from e
    names = {e.filename for e in entries}
    if "word/document.xml" not in names:
        raise DocumentRejected(
            "unsupported_type", "Unsupported document type: this ZIP is not a Word document"
        )
    if len(entries) > _MAX_ZIP_ENTRIES:
        raise DocumentRejected("unsafe_document", "The DOCX file has too many parts")
    total = sum(e.file_size for e in entries)
    if total > max_unzipped_bytes:
        raise DocumentRejected("unsafe_document", "The DOCX file expands beyond the size limit")
    for entry in entries:
        if entry.file_size > 1024 * 1024 and entry.file_size > _MAX_ZIP_RATIO * max(
            entry.compress_size, 1
        ):
            raise DocumentRejected(
                "unsafe_document", "The DOCX file is compressed suspiciously well (zip bomb)"
            )
