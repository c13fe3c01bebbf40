"""Text and page numbers out of PDF, DOCX, HTML, Markdown and plain text.

These functions run inside the child process of :mod:`vocable.knowledge.parse_worker`:
a hostile file can at worst crash or exhaust that process, not the API.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass
from html.parser import HTMLParser

from vocable.knowledge.sniff import DocumentRejected, check_docx


@dataclass(frozen=True)
class Section:
    """A run of text and the page it came from (PDF only; ``None`` elsewhere)."""

    text: str
    page: int | None = None


@dataclass(frozen=True)
class Limits:
    max_text_chars: int
    max_pages: int
    max_unzipped_bytes: int


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self, text: str) -> str:
        self.left -= len(text)
        if self.left < 0:
            raise DocumentRejected(
                "too_much_text", "The document contains more text than the per-document limit"
            )
        return text


def parse(kind: str, data: bytes, limits: Limits) -> list[Section]:
    """Sections of text of a document of ``kind``; raises :class:`DocumentRejected`."""
    budget = _Budget(limits.max_text_chars)
    if kind == "pdf":
        return _pdf(data, limits, budget)
    if kind == "docx":
        return _docx(data, limits, budget)
    text = decode_text(data)
    if kind == "html":
        return [Section(budget.take(html_to_text(text)))]
    if kind == "markdown":
        return [Section(budget.take(markdown_to_text(text)))]
    return [Section(budget.take(text))]


def _pdf(data: bytes, limits: Limits, budget: _Budget) -> list[Section]:
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        message = str(e).lower()
        if "password" in message:
            raise DocumentRejected(
                "encrypted_document", "The PDF is password-protected; upload an unprotected copy"
            ) from None
        raise DocumentRejected("invalid_document", "The PDF is damaged or not a PDF") from None
    try:
        if len(pdf) > limits.max_pages:
            raise DocumentRejected("too_many_pages", "The PDF has more pages than the limit")
        sections = []
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                text = textpage.get_text_range()
                textpage.close()
            finally:
                page.close()
            if text.strip():
                sections.append(Section(budget.take(text), page=index + 1))
        return sections
    finally:
        pdf.close()


def _docx(data: bytes, limits: Limits, budget: _Budget) -> list[Section]:
    check_docx(data, max_unzipped_bytes=limits.max_unzipped_bytes)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as e:  # python-docx raises many exception types for damaged files
        raise DocumentRejected("invalid_document", "The DOCX file is damaged") from e
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text for cell in row.cells))
    return [Section(budget.take("\n".join(lines)))]


def decode_text(data: bytes) -> str:
    """Bytes to text: a byte-order mark, else UTF-8, else the detected encoding."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:1_000_000]).best()
    encoding = best.encoding if best is not None else "latin-1"
    return data.decode(encoding, errors="replace")


class _TextOfHtml(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    _BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The main text of a page (trafilatura), else all visible text (a plain parser)."""
    import trafilatura

    extracted = trafilatura.extract(
        html, include_comments=False, include_tables=True, favor_recall=True
    )
    if extracted and extracted.strip():
        return str(extracted)
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def markdown_to_text(source: str) -> str:
    """Markdown without its markup: headings, paragraphs, list items, code."""
    from markdown_it import MarkdownIt

    out: list[str] = []
    for token in MarkdownIt("commonmark").parse(source):
        if token.type == "inline":
            words = []
            for child in token.children or []:
                if child.type in ("text", "code_inline"):
                    words.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    words.append(" ")
            out.append("".join(words))
        elif token.type in ("fence", "code_block"):
            out.append(token.content)
        elif token.type.endswith("_close") and token.block:
            out.append("\n")
    return "\n".join(part for part in "".join(_join(out)).split("\n") if part.strip())


def _join(parts: list[str]) -> list[str]:
    return [p if p == "\n" else p + "\n" for p in parts]
