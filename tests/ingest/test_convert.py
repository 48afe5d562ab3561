"""Converters: each format's text, structure and metadata, and a clear reason for each kind of bad file."""

import io
import os
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from assist.grounding import passage_units
from ingest.convert import (
    ConversionError,
    check_readable,
    convert,
    decode_text,
    guess_language,
    layout_tables,
    strip_headers_footers,
)
from tests.ingest.conftest import HTML, MARKDOWN, SENTENCES, make_docx, make_pdf, make_scanned_pdf


class TestPdf:
    def test_text_per_page_without_running_header_and_footer(self, tmp_path: Path):
        path = tmp_path / "fall.pdf"
        path.write_bytes(make_pdf([["# Fall", SENTENCES[0]], ["# Efter", SENTENCES[1]], ["Slut."]], title="Fall"))
        src = convert(path)
        assert [p.number for p in src.pages] == [1, 2, 3]
        assert SENTENCES[1] in src.pages[1].text
        joined = "\n".join(p.text for p in src.pages)
        assert "kommunens rutin" not in joined and "Sida" not in joined
        assert src.title == "Fall" and src.meta["owner"] == "Kvalitetsenheten"

    def test_larger_font_lines_become_headings(self, tmp_path: Path):
        path = tmp_path / "fall.pdf"
        path.write_bytes(make_pdf([["# Fall", SENTENCES[0]], ["# Efter fallet", SENTENCES[1]]]))
        src = convert(path)
        assert "## Efter fallet" in src.pages[1].text or "# Efter fallet" in src.pages[1].text

    def test_encrypted(self, tmp_path: Path):
        path = tmp_path / "secret.pdf"
        path.write_bytes(make_pdf([[SENTENCES[0]]], password="hemligt"))
        with pytest.raises(ConversionError, match="encrypted PDF: remove the password"):
            convert(path)

    def test_corrupt(self, tmp_path: Path):
        path = tmp_path / "broken.pdf"
        path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage" + os.urandom(200))
        with pytest.raises(ConversionError, match="corrupt PDF"):
            convert(path)

    def test_truncated(self, tmp_path: Path):
        path = tmp_path / "cut.pdf"
        path.write_bytes(make_pdf([[SENTENCES[0]], [SENTENCES[1]]])[:300])
        with pytest.raises(ConversionError, match="corrupt PDF|scanned"):
            convert(path)

    def test_scanned_needs_ocr(self, tmp_path: Path):
        path = tmp_path / "scan.pdf"
        path.write_bytes(make_scanned_pdf())
        with pytest.raises(ConversionError, match="scanned: needs OCR"):
            convert(path)


def test_headers_kept_when_every_page_is_the_same():
    assert strip_headers_footers(["Bild", "Bild"]) == ["Bild", "Bild"]


def test_docx_keeps_headings_and_tables(tmp_path: Path):
    path = tmp_path / "nycklar.docx"
    make_docx(path)
    src = convert(path)
    text = src.pages[0].text
    assert "## Kvittering" in text and "### Förlorad nyckel" in text
    assert "| Chef | 08-123 45 67 |" in text
    assert src.meta["valid_from"] == "2024-01-01" and src.meta["doc_version"] == 3


def test_html_main_content_only(tmp_path: Path):
    path = tmp_path / "oppettider.html"
    path.write_text(HTML, encoding="utf-8")
    src = convert(path)
    text = src.pages[0].text
    assert "klockan 10 till 19" in text and "## Helger" in text
    assert "Sök på webbplatsen" not in text and "Cookie" not in text
    assert src.title == "Öppettider" and src.meta["valid_from"] == "2024-03-01" and src.meta["language"] == "sv"


def test_markdown_front_matter(tmp_path: Path):
    path = tmp_path / "hygien.md"
    path.write_text(MARKDOWN.format(body=SENTENCES[0]), encoding="utf-8")
    src = convert(path)
    assert src.title == "Handhygien"
    assert src.meta.items() >= {"valid_from": "2024-01-15", "review_date": "2025-01-15", "doc_version": 2}.items()


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "latin-1", "utf-8-sig"])
def test_text_in_common_encodings(tmp_path: Path, encoding: str):
    path = tmp_path / "lan.txt"
    path.write_text("Lånetid\n\nLånetiden är fyra veckor för böcker och två veckor för filmer.", encoding=encoding)
    assert "Lånetiden är fyra veckor" in convert(path).pages[0].text


def test_binary_named_text_is_refused(tmp_path: Path):
    path = tmp_path / "bin.txt"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(ConversionError, match="not text|not readable text|encoding"):
        convert(path)


def test_markdown_in_wrong_encoding_is_decoded(tmp_path: Path):
    path = tmp_path / "gammal.md"
    path.write_bytes("# Gammal rutin\n\nFörvaras på säker plats för alla överlämningar.".encode("cp1252"))
    src = convert(path)
    assert "Förvaras" in src.pages[0].text and src.notes


class TestRefusedBeforeReading:
    def test_empty(self, tmp_path: Path):
        (tmp_path / "empty.md").write_bytes(b"")
        with pytest.raises(ConversionError, match="empty file"):
            check_readable(tmp_path / "empty.md")

    def test_unsupported(self, tmp_path: Path):
        (tmp_path / "data.xlsx").write_bytes(b"x")
        with pytest.raises(ConversionError, match="unsupported file type .xlsx"):
            check_readable(tmp_path / "data.xlsx")

    def test_huge_file_refused_without_reading(self, tmp_path: Path):
        path = tmp_path / "huge.pdf"
        with path.open("wb") as f:  # sparse: 200 MB on paper, nothing on disk
            f.truncate(200 * 1024 * 1024)
        with pytest.raises(ConversionError, match=r"too large \(200 MB, limit 100 MB\)"):
            check_readable(path, max_file_mb=100)


def test_decode_rejects_nul_bytes():
    with pytest.raises(ConversionError):
        decode_text(b"\xff\x00\xfe\x00abc\x00\x81")


def test_guess_language():
    assert guess_language("The routine is for all staff and you must report it to the manager.") == "en"
    assert guess_language("Rutinen gäller all personal och du ska rapportera det till chefen.") == "sv"


def _table_pdf() -> bytes:
    """A routine with a two-column table whose second cell wraps over two printed lines, as a word processor
    prints it."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    c.setFont("Helvetica", 10)
    c.drawString(50, 780, "Barnet ska vara hemma tills det orkar delta i verksamheten.")
    rows = [
        ("Symtom", ["Barnet får komma tillbaka när"]),
        ("Feber (38,0 °C eller mer)", ["Barnet har varit feberfritt i ett dygn utan", "febernedsättande läkemedel"]),
        ("Kräkningar eller diarré", ["Barnet har varit symtomfritt i 48 timmar"]),
    ]
    y = 740
    for first, second in rows:
        c.drawString(50, y, first)
        for n, line in enumerate(second):
            c.drawString(300, y - 14 * n, line)
        y -= 14 * len(second)
    c.drawString(50, y - 30, "Personalen ringer vårdnadshavare.")
    c.showPage()
    c.save()
    return buf.getvalue()


def test_a_pdf_table_becomes_rows_quoted_with_their_headers(tmp_path):
    path = tmp_path / "sjukdom.pdf"
    path.write_bytes(_table_pdf())
    doc = convert(path)
    text = "\n".join(p.text for p in doc.pages)
    units = passage_units(text)
    assert "Kräkningar eller diarré | Barnet får komma tillbaka när: Barnet har varit symtomfritt i 48 timmar" in units
    assert (
        "Feber (38,0 °C eller mer) | Barnet får komma tillbaka när: Barnet har varit feberfritt i ett dygn utan "
        "febernedsättande läkemedel"
    ) in units  # the wrapped cell is one cell
    # The text around the table is kept, and not run into the table.
    assert "Barnet ska vara hemma tills det orkar delta i verksamheten." in units
    assert "Personalen ringer vårdnadshavare." in units


def test_layout_tables_reads_columns_and_leaves_prose_alone():
    layout = "\n".join([
        " Rutinen gäller alla.",
        "",
        "     Punkt ett i en lista som är indragen.",
        "     Punkt två.",
        "",
        " SMHI-nivå                        Kriterium                       Åtgärd",
        " Varning för mycket höga          Max minst 30 °C tre dagar       Extra besök till",
        " temperaturer                                                     riskbrukare.",
        " Varning för extremt höga         Max minst 33 °C tre dagar       Extra bemanning.",
        "",
    ])
    assert layout_tables(layout) == [[
        ["SMHI-nivå", "Kriterium", "Åtgärd"],
        ["Varning för mycket höga temperaturer", "Max minst 30 °C tre dagar", "Extra besök till riskbrukare."],
        ["Varning för extremt höga", "Max minst 33 °C tre dagar", "Extra bemanning."],
    ]]
