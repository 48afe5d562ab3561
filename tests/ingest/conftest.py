"""Small generated fixtures for ingest tests: PDFs (reportlab), DOCX, HTML, Markdown, text, and broken files."""

import io
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

SENTENCES = [
    "Personalen tvättar händerna före och efter varje besök.",
    "Handskar används vid kontakt med kroppsvätskor.",
    "Avvikelser rapporteras samma dag i verksamhetssystemet.",
    "Chefen följer upp varje avvikelse inom en vecka.",
]


def make_pdf(
    pages: list[list[str]], *, title: str = "Rutin", header: bool = True, password: str | None = None
) -> bytes:
    """A text PDF, one list of lines per page, with a running header and a page-number footer."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    c.setTitle(title)
    c.setAuthor("Kvalitetsenheten")
    for n, lines in enumerate(pages, start=1):
        if header:
            c.setFont("Helvetica", 8)
            c.drawString(50, 810, f"{title} - kommunens rutin")
            c.drawString(50, 30, f"Sida {n} av {len(pages)}")
        y = 760
        for line in lines:
            heading = line.startswith("# ")
            c.setFont("Helvetica-Bold" if heading else "Helvetica", 14 if heading else 10)
            c.drawString(50, y, line[2:] if heading else line)
            y -= 18
        c.showPage()
    c.save()
    if password is None:
        return buf.getvalue()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buf.getvalue())))
    writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_scanned_pdf() -> bytes:
    """A PDF whose page is only a drawing: no text layer."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    c.rect(100, 100, 300, 400, fill=1)
    c.showPage()
    c.save()
    return buf.getvalue()


def make_docx(path: Path) -> None:
    """A Word routine with a heading hierarchy and a table."""
    d = docx.Document()
    d.core_properties.title = "Nycklar"
    d.core_properties.author = "Hemtjänsten"
    d.core_properties.comments = "valid_from=2024-01-01;review_date=2025-01-01;version=3"
    d.add_heading("Nycklar", level=0)
    d.add_heading("Kvittering", level=1)
    d.add_paragraph("Nyckeln kvitteras i nyckelskåpet. Den lämnas tillbaka samma dag.")
    d.add_heading("Förlorad nyckel", level=2)
    d.add_paragraph("Ring chefen direkt om en nyckel saknas.")
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "Vem", "Telefon"
    t.cell(1, 0).text, t.cell(1, 1).text = "Chef", "08-123 45 67"
    d.save(str(path))


HTML = """<!DOCTYPE html><html lang="sv"><head><meta charset="utf-8"><title>Öppettider</title>
<meta name="owner" content="Biblioteket"><meta name="valid_from" content="2024-03-01"></head><body>
<nav><a href="/">Start</a> | <a href="/sok">Sök på webbplatsen</a> | <a href="/kontakt">Kontakta oss</a></nav>
<main><article><h1>Öppettider</h1><h2>Vardagar</h2>
<p>Biblioteket är öppet klockan 10 till 19 måndag till fredag. Under sommaren stänger vi klockan 16.</p>
<h2>Helger</h2><p>På lördagar är biblioteket öppet klockan 11 till 15. Söndagar är det stängt.</p>
</article></main><footer><p>Cookie-inställningar och webbplatskarta</p></footer></body></html>"""

MARKDOWN = """---
title: Handhygien
owner: Hemtjänsten
valid_from: 2024-01-15
review_date: 2025-01-15
language: sv
version: 2
---
# Handhygien

## Före besöket

{body}

## Efter besöket

Lämna inget avfall hos brukaren. Rapportera brist på handsprit till chefen.
"""


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    """knowledge-like folder: one good file of each format in two collections."""
    return build_kb(tmp_path)


def build_kb(tmp_path: Path) -> Path:
    """Write the knowledge-like folder under tmp_path/kb."""
    root = tmp_path / "kb"
    (root / "home_care").mkdir(parents=True)
    (root / "library").mkdir()
    (root / "home_care" / "hygien.md").write_text(MARKDOWN.format(body=" ".join(SENTENCES)), encoding="utf-8")
    (root / "home_care" / "fall.pdf").write_bytes(
        make_pdf([["# Fall", *SENTENCES[:2]], ["# Efter fallet", *SENTENCES[2:]]], title="Fall")
    )
    make_docx(root / "home_care" / "nycklar.docx")
    (root / "library" / "oppettider.html").write_text(HTML, encoding="utf-8")
    (root / "library" / "utlan.txt").write_text("Lån\n\nLånetiden är fyra veckor. Förnya på webben.", encoding="cp1252")
    return root
