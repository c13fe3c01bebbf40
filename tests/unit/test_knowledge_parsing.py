"""Sniffing, parsing, chunking and fusion of the knowledge base, on generated documents."""

from __future__ import annotations

import io
import zipfile

import pytest

from vocable.knowledge.chunking import chunk_sections
from vocable.knowledge.index import Hit, query_terms
from vocable.knowledge.parsing import Limits, Section, decode_text, markdown_to_text, parse
from vocable.knowledge.search import fuse
from vocable.knowledge.sniff import DocumentRejected, sniff
from vocable.worker.knowledge import format_passages

LIMITS = Limits(max_text_chars=1_000_000, max_pages=100, max_unzipped_bytes=50_000_000)


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str]) -> bytes:
    """A minimal, valid PDF with one Helvetica text page per item of ``pages``."""
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        shown = " ".join(f"({_pdf_escape(line)}) '" for line in text.split("\n"))
        stream = f"BT /F1 11 Tf 72 740 Td 14 TL {shown} ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream".encode())
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return out


def make_encrypted_pdf(pages: list[str]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(pages))))
    writer.encrypt(user_password="open-sesame", owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_zip_bomb_docx(expanded_bytes: int = 30 * 1024 * 1024) -> bytes:
    """A ZIP that looks like a Word document and expands ~1000:1."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"<" + b"\0" * expanded_bytes)
    return out.getvalue()


def test_sniff_decides_by_content_not_name() -> None:
    assert sniff(make_pdf(["x"]), filename="a.txt", max_unzipped_bytes=10**8).kind == "pdf"
    assert sniff(make_docx(["x"]), filename="a.pdf", max_unzipped_bytes=10**8).kind == "docx"
    html = b"<!DOCTYPE html><html><body><p>hi</p></body></html>"
    assert sniff(html, filename="page.md", max_unzipped_bytes=10**8).kind == "html"
    assert sniff(b"# Title\n\ntext", filename="notes.md", max_unzipped_bytes=10**8).kind == (
        "markdown"
    )
    assert sniff(b"plain words", filename="notes.pdf", max_unzipped_bytes=10**8).kind == "text"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "unsupported_type"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "unsupported_type"),
        (b"", "empty_document"),
    ],
)
def test_sniff_refuses_other_content(data: bytes, code: str) -> None:
    with pytest.raises(DocumentRejected) as caught:
        sniff(data, filename="document.pdf", max_unzipped_bytes=10**8)
    assert caught.value.code == code


def test_zip_that_is_not_a_word_document_is_unsupported() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DocumentRejected) as caught:
        sniff(out.getvalue(), filename="a.docx", max_unzipped_bytes=10**8)
    assert caught.value.code == "unsupported_type"


def test_zip_bomb_docx_is_refused_before_parsing() -> None:
    with pytest.raises(DocumentRejected) as caught:
        parse("docx", make_zip_bomb_docx(), LIMITS)
    assert caught.value.code == "unsafe_document"


def test_pdf_text_keeps_page_numbers() -> None:
    sections = parse("pdf", make_pdf(["First page words", "Second page: parking"]), LIMITS)
    assert [s.page for s in sections] == [1, 2]
    assert "parking" in sections[1].text


def test_encrypted_and_corrupt_pdfs_are_rejected_with_reasons() -> None:
    with pytest.raises(DocumentRejected) as encrypted:
        parse("pdf", make_encrypted_pdf(["secret"]), LIMITS)
    assert encrypted.value.code == "encrypted_document"
    with pytest.raises(DocumentRejected) as corrupt:
        parse("pdf", b"%PDF-1.7\n" + bytes(range(256)) * 20, LIMITS)
    assert corrupt.value.code == "invalid_document"


def test_extracted_text_is_bounded() -> None:
    small = Limits(max_text_chars=100, max_pages=10, max_unzipped_bytes=10**6)
    with pytest.raises(DocumentRejected) as caught:
        parse("text", b"word " * 100, small)
    assert caught.value.code == "too_much_text"


def test_docx_html_markdown_and_text_give_their_words() -> None:
    assert "croissants" in parse("docx", make_docx(["We bake croissants."]), LIMITS)[0].text
    html = (
        b"<html><head><script>var x=1;</script></head><body><p>Sourdough daily.</p></body></html>"
    )
    text = parse("html", html, LIMITS)[0].text
    assert "Sourdough daily." in text and "var x" not in text
    assert markdown_to_text("# Hours\n\n**Open** at *nine*.\n\n- item one") == (
        "Hours\nOpen at nine.\nitem one"
    )
    french = "Notre crème brûlée et le café au lait sont préparés à la main chaque matin. " * 3
    assert decode_text(french.encode("cp1252")) == french
    assert decode_text("\ufeffhello".encode()) == "hello"


def test_chunks_overlap_and_never_cross_pages() -> None:
    words = " ".join(f"w{i}" for i in range(600))
    chunks = chunk_sections(
        [Section(words, page=1), Section("short page", page=2)], size=400, overlap=80
    )
    assert all(len(c.text) <= 400 for c in chunks)
    assert chunks[-1].text == "short page" and chunks[-1].page == 2
    first, second = chunks[0].text.split(), chunks[1].text.split()
    assert set(first[-5:]) & set(second[:15]), "consecutive chunks share words"
    covered = set(" ".join(c.text for c in chunks if c.page == 1).split())
    assert covered == set(words.split())


def _hit(chunk_id: int, rank: int) -> Hit:
    return Hit(chunk_id, "doc", chunk_id, f"t{chunk_id}", "s", None, rank)


def test_reciprocal_rank_fusion_prefers_agreement() -> None:
    fused = fuse([_hit(1, 1), _hit(2, 2), _hit(3, 3)], [_hit(3, 1), _hit(4, 2)], top_k=2)
    assert [p.chunk for p in fused] == [3, 1]


def test_query_terms_and_passage_format() -> None:
    assert query_terms("What's the WiFi? the wifi!") == ["what", "s", "the", "wifi"]
    text = format_passages([{"source": "faq.pdf", "page": 2, "text": "Parking is free."}])
    assert text is not None and "[1] (faq.pdf, page 2) Parking is free." in text
    assert format_passages([]) is None
