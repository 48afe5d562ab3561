"""Render the PDF and DOCX sample documents in knowledge/ from their Markdown sources.

Sources live in scripts/knowledge_src/<collection>/<doc_id>.md with YAML front matter
(title, owner, valid_from, review_date, language, optional version/replaces, format: pdf|docx,
optional running_header: true). The output is deterministic: running the script twice gives
byte-identical files, so the committed documents can be checked against their sources.

    python scripts/build_knowledge.py              # writes into knowledge/
    python scripts/build_knowledge.py --out DIR    # writes into DIR/<collection>/
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import io
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
from docx import Document
from docx.shared import Pt
from pypdf import PdfReader, PdfWriter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

ROOT = Path(__file__).resolve().parent.parent
SRC_DIR = ROOT / "scripts" / "knowledge_src"
DEFAULT_OUT = ROOT / "knowledge"
COLLECTIONS = ("home_care", "preschool", "library", "general")
FORMATS = ("pdf", "docx")
PAGEBREAK = "<!-- pagebreak -->"
# Fixed timestamp for DOCX zip entries: zip cannot store dates before 1980.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
PRODUCER = "Frontline Assist knowledge build"


@dataclass
class Block:
    """One structural element of a source document."""

    kind: str  # heading1 | heading2 | para | numbered | bullet | table | pagebreak
    text: str = ""
    number: int = 0
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class SourceDoc:
    doc_id: str
    collection: str
    fmt: str
    meta: dict[str, object]
    blocks: list[Block]

    @property
    def title(self) -> str:
        return str(self.meta["title"])

    @property
    def owner(self) -> str:
        return str(self.meta["owner"])

    @property
    def language(self) -> str:
        return str(self.meta["language"])

    @property
    def version(self) -> int:
        return int(self.meta.get("version", 1))  # type: ignore[call-overload]

    def date(self, key: str) -> str:
        value = self.meta[key]
        return value.isoformat() if isinstance(value, dt.date) else str(value)


def parse_blocks(body: str) -> list[Block]:
    """Split a small Markdown subset into blocks: headings, lists, pipe tables, paragraphs."""
    blocks: list[Block] = []
    para: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if para:
            blocks.append(Block("para", " ".join(para)))
            para.clear()
        if table:
            blocks.append(Block("table", rows=[row[:] for row in table]))
            table.clear()

    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith("|"):
            if para:
                blocks.append(Block("para", " ".join(para)))
                para.clear()
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                continue
            table.append(cells)
            continue
        if not line:
            flush()
        elif line == PAGEBREAK:
            flush()
            blocks.append(Block("pagebreak"))
        elif line.startswith("## "):
            flush()
            blocks.append(Block("heading2", line[3:].strip()))
        elif line.startswith("# "):
            flush()
            blocks.append(Block("heading1", line[2:].strip()))
        elif m := re.match(r"(\d+)\.\s+(.*)", line):
            flush()
            blocks.append(Block("numbered", m.group(2), number=int(m.group(1))))
        elif line.startswith(("- ", "* ")):
            flush()
            blocks.append(Block("bullet", line[2:].strip()))
        elif line.startswith(">"):
            flush()
            blocks.append(Block("para", line.lstrip("> ").strip()))
        else:
            if table:
                flush()
            para.append(line)
    flush()
    return blocks


def load_sources(src_dir: Path = SRC_DIR) -> list[SourceDoc]:
    docs = []
    for collection in COLLECTIONS:
        for path in sorted((src_dir / collection).glob("*.md")):
            post = frontmatter.load(path)
            fmt = str(post.metadata.get("format", ""))
            if fmt not in FORMATS:
                raise ValueError(f"{path}: format must be one of {FORMATS}, got {fmt!r}")
            docs.append(SourceDoc(path.stem, collection, fmt, dict(post.metadata), parse_blocks(post.content)))
    return docs


# ---------------------------------------------------------------- PDF


def inline_markup(text: str) -> str:
    """Markdown bold to reportlab's mini-HTML, everything else escaped."""
    escaped = html.escape(text, quote=False)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escaped)


def pdf_styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "heading1": ParagraphStyle("H1", parent=base["Heading1"], fontName="Helvetica-Bold", fontSize=17, spaceAfter=8),
        "heading2": ParagraphStyle(
            "H2", parent=base["Heading2"], fontName="Helvetica-Bold", fontSize=13, spaceBefore=10, spaceAfter=4
        ),
        "para": ParagraphStyle("Body", parent=base["BodyText"], fontName="Helvetica", fontSize=10.5, leading=14),
        "list": ParagraphStyle(
            "List",
            parent=base["BodyText"],
            fontName="Helvetica",
            fontSize=10.5,
            leading=14,
            leftIndent=8 * mm,
            firstLineIndent=-5 * mm,
            spaceAfter=2,
        ),
        "cell": ParagraphStyle("Cell", parent=base["BodyText"], fontName="Helvetica", fontSize=9.5, leading=12),
        "cellhead": ParagraphStyle(
            "CellHead", parent=base["BodyText"], fontName="Helvetica-Bold", fontSize=9.5, leading=12
        ),
    }


def pdf_flowables(doc: SourceDoc) -> list[object]:
    styles = pdf_styles()
    story: list[object] = []
    for block in doc.blocks:
        if block.kind in ("heading1", "heading2", "para"):
            story.append(Paragraph(inline_markup(block.text), styles[block.kind]))
        elif block.kind == "numbered":
            story.append(Paragraph(f"{block.number}.&nbsp;&nbsp;{inline_markup(block.text)}", styles["list"]))
        elif block.kind == "bullet":
            story.append(Paragraph(f"•&nbsp;&nbsp;{inline_markup(block.text)}", styles["list"]))
        elif block.kind == "pagebreak":
            story.append(PageBreak())
        elif block.kind == "table":
            data = [
                [Paragraph(inline_markup(c), styles["cellhead" if i == 0 else "cell"]) for c in row]
                for i, row in enumerate(block.rows)
            ]
            width = A4[0] - 40 * mm
            table = Table(data, colWidths=[width / len(block.rows[0])] * len(block.rows[0]), repeatRows=1)
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6ee")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            story.extend([Spacer(1, 3 * mm), table, Spacer(1, 3 * mm)])
    return story


def render_pdf(doc: SourceDoc) -> bytes:
    page_word = "Sida {n} av {m}" if doc.language == "sv" else "Page {n} of {m}"
    running_header = bool(doc.meta.get("running_header", False))
    subject = f"{doc.collection} routine, valid from {doc.date('valid_from')}"

    def build(total_pages: int) -> tuple[bytes, int]:
        buf = io.BytesIO()
        template = SimpleDocTemplate(
            buf,
            pagesize=A4,
            leftMargin=20 * mm,
            rightMargin=20 * mm,
            topMargin=25 * mm,
            bottomMargin=20 * mm,
            title=doc.title,
            author=doc.owner,
            subject=subject,
            creator=PRODUCER,
            invariant=1,
        )

        def decorate(canv, tmpl) -> None:  # type: ignore[no-untyped-def]
            canv.saveState()
            canv.setFont("Helvetica", 8.5)
            if running_header:
                canv.drawString(20 * mm, A4[1] - 13 * mm, doc.title)
                canv.drawRightString(A4[0] - 20 * mm, A4[1] - 13 * mm, page_word.format(n=tmpl.page, m=total_pages))
                canv.line(20 * mm, A4[1] - 15 * mm, A4[0] - 20 * mm, A4[1] - 15 * mm)
            canv.drawString(
                20 * mm,
                12 * mm,
                f"{doc.owner} · giltig från {doc.date('valid_from')}"
                if doc.language == "sv"
                else f"{doc.owner} · valid from {doc.date('valid_from')}",
            )
            canv.restoreState()

        template.build(pdf_flowables(doc), onFirstPage=decorate, onLaterPages=decorate)
        return buf.getvalue(), template.page

    # Two passes: the first counts the pages so the header can say "Sida N av M".
    _, pages = build(0)
    raw, _ = build(pages)

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(raw)))
    info = {
        "/Title": doc.title,
        "/Author": doc.owner,
        "/Subject": subject,
        "/Producer": PRODUCER,
        "/DocId": doc.doc_id,
        "/ValidFrom": doc.date("valid_from"),
        "/ReviewDate": doc.date("review_date"),
        "/Language": doc.language,
        "/DocVersion": str(doc.version),
    }
    if doc.meta.get("replaces"):
        info["/Replaces"] = str(doc.meta["replaces"])
    writer.add_metadata(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# ---------------------------------------------------------------- DOCX


def add_runs(paragraph, text: str) -> None:  # type: ignore[no-untyped-def]
    for i, part in enumerate(re.split(r"\*\*(.+?)\*\*", text)):
        if part:
            paragraph.add_run(part).bold = i % 2 == 1


def render_docx(doc: SourceDoc) -> bytes:
    document = Document()
    document.styles["Normal"].font.name = "Calibri"
    document.styles["Normal"].font.size = Pt(11)
    for block in doc.blocks:
        if block.kind == "heading1":
            document.add_heading(block.text, level=1)
        elif block.kind == "heading2":
            document.add_heading(block.text, level=2)
        elif block.kind == "para":
            add_runs(document.add_paragraph(), block.text)
        elif block.kind == "numbered":
            # Literal numbers: Word's auto-numbering is lost by most text extractors.
            add_runs(document.add_paragraph(style="List Paragraph"), f"{block.number}. {block.text}")
        elif block.kind == "bullet":
            add_runs(document.add_paragraph(style="List Bullet"), block.text)
        elif block.kind == "pagebreak":
            document.add_page_break()
        elif block.kind == "table":
            table = document.add_table(rows=len(block.rows), cols=len(block.rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(block.rows):
                for c, value in enumerate(row):
                    cell = table.cell(r, c)
                    cell.text = ""
                    add_runs(cell.paragraphs[0], f"**{value}**" if r == 0 else value)

    props = document.core_properties
    valid_from = dt.datetime.fromisoformat(doc.date("valid_from"))
    props.title = doc.title
    props.author = doc.owner
    props.language = doc.language
    props.subject = f"{doc.collection} routine"
    comments = f"valid_from={doc.date('valid_from')};review_date={doc.date('review_date')};version={doc.version}"
    if doc.meta.get("replaces"):
        comments += f";replaces={doc.meta['replaces']}"
    props.comments = comments
    props.keywords = doc.doc_id
    props.created = valid_from
    props.modified = valid_from
    props.last_modified_by = doc.owner
    props.revision = doc.version

    buf = io.BytesIO()
    document.save(buf)
    return normalise_zip(buf.getvalue())


def normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps so the bytes do not depend on the build time."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(item.filename))
    return out.getvalue()


# ---------------------------------------------------------------- main


def build(out_dir: Path, src_dir: Path = SRC_DIR) -> list[Path]:
    written = []
    for doc in load_sources(src_dir):
        target = out_dir / doc.collection / f"{doc.doc_id}.{doc.fmt}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(render_pdf(doc) if doc.fmt == "pdf" else render_docx(doc))
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output root (default: knowledge/)")
    args = parser.parse_args(argv)
    written = build(args.out)
    sys.stdout.write(f"wrote {len(written)} documents under {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
