"""Validate the sample knowledge base and the evaluation sets, and report their counts."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal

import frontmatter
import pytest
from docx import Document
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
EVAL_SETS = ROOT / "eval_sets"
BUILD_SCRIPT = ROOT / "scripts" / "build_knowledge.py"

COLLECTIONS = ("home_care", "preschool", "library", "general")
FORMATS = ("md", "pdf", "docx", "html")
DOC_LANGUAGES = ("sv", "en")
#: The languages the product answers in (DESIGN.md), all of which the eval rows may ask in.
QUESTION_LANGUAGES = ("sv", "en", "ar", "so", "fi", "fa", "pl", "lv", "uk", "de", "fr", "es", "ru", "th", "tr")
OTHER_LANGUAGES = set(QUESTION_LANGUAGES) - {"sv", "en"}
ROLE_COLLECTIONS = {
    "home-care": {"home_care", "general"},
    "preschool": {"preschool", "general"},
    "library": {"library", "general"},
    "admin": set(COLLECTIONS),
}
MD_KEYS_REQUIRED = {"title", "owner", "valid_from", "review_date", "language"}
MD_KEYS_OPTIONAL = {"replaces", "version"}
DOC_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

Tag = Literal[
    "multi_turn",
    "multi_doc",
    "version",
    "numbers",
    "injection",
    "misspelled",
    "role_blocked",
    "not_covered",
    "day_night",
    "cross_language",
]


# ---------------------------------------------------------------- documents


@dataclass(frozen=True)
class DocMeta:
    doc_id: str
    collection: str
    fmt: str
    title: str
    owner: str
    valid_from: dt.date
    review_date: dt.date
    language: str
    version: int
    replaces: str | None
    pages: int | None = None


class _HtmlMeta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.lang = ""
        self.title = ""
        self._in_title = False
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = values.get("lang", "")
        elif tag == "meta" and "name" in values:
            self.meta[values["name"]] = values.get("content", "")
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _date(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip())


def read_meta(path: Path) -> DocMeta:
    collection, doc_id, fmt = path.parent.name, path.stem, path.suffix.lstrip(".")
    if fmt == "md":
        post = frontmatter.load(path)
        keys = set(post.metadata)
        assert keys >= MD_KEYS_REQUIRED, f"{path}: missing {MD_KEYS_REQUIRED - keys}"
        assert keys <= MD_KEYS_REQUIRED | MD_KEYS_OPTIONAL, f"{path}: unexpected keys {keys - MD_KEYS_REQUIRED}"
        m = post.metadata
        return DocMeta(
            doc_id,
            collection,
            fmt,
            str(m["title"]),
            str(m["owner"]),
            _date(m["valid_from"]),
            _date(m["review_date"]),
            str(m["language"]),
            int(m.get("version", 1)),
            m.get("replaces"),
        )
    if fmt == "pdf":
        reader = PdfReader(path)
        info = reader.metadata or {}
        return DocMeta(
            doc_id,
            collection,
            fmt,
            str(info.get("/Title", "")),
            str(info.get("/Author", "")),
            _date(info["/ValidFrom"]),
            _date(info["/ReviewDate"]),
            str(info.get("/Language", "")),
            int(info.get("/DocVersion", 1)),
            info.get("/Replaces"),
            pages=len(reader.pages),
        )
    if fmt == "docx":
        props = Document(str(path)).core_properties
        fields = dict(part.split("=", 1) for part in (props.comments or "").split(";") if "=" in part)
        return DocMeta(
            doc_id,
            collection,
            fmt,
            props.title or "",
            props.author or "",
            _date(fields["valid_from"]),
            _date(fields["review_date"]),
            props.language or "",
            int(fields.get("version", 1)),
            fields.get("replaces"),
        )
    if fmt == "html":
        parser = _HtmlMeta()
        parser.feed(path.read_text(encoding="utf-8"))
        assert {"nav", "header", "footer", "main"} <= parser.tags, f"{path}: intranet boilerplate missing"
        return DocMeta(
            doc_id,
            collection,
            fmt,
            parser.title.strip(),
            parser.meta.get("owner", ""),
            _date(parser.meta["valid_from"]),
            _date(parser.meta["review_date"]),
            parser.lang,
            1,
            None,
        )
    raise AssertionError(f"{path}: unsupported format {fmt}")


def document_paths() -> list[Path]:
    # A collection's glossary.toml (staff words) sits beside its routines but is not a routine.
    return sorted(
        p for c in COLLECTIONS for p in (KNOWLEDGE / c).iterdir() if p.is_file() and not p.name.startswith("glossary.")
    )


@pytest.fixture(scope="module")
def documents() -> dict[str, DocMeta]:
    docs: dict[str, DocMeta] = {}
    for path in document_paths():
        meta = read_meta(path)
        assert meta.doc_id not in docs, f"duplicate doc_id {meta.doc_id}"
        docs[meta.doc_id] = meta
    return docs


def test_knowledge_layout() -> None:
    top = {p.name for p in KNOWLEDGE.iterdir()}
    assert top == {*COLLECTIONS, "README.md"}, f"unexpected entries in knowledge/: {top}"
    for path in document_paths():
        assert DOC_ID.fullmatch(path.stem), f"{path}: doc_id must be lowercase ascii, digits and hyphens"
        assert path.suffix.lstrip(".") in FORMATS, f"{path}: unsupported format"


@pytest.mark.parametrize("path", document_paths(), ids=lambda p: p.name)
def test_document_metadata(path: Path) -> None:
    meta = read_meta(path)
    assert meta.title.strip(), f"{path}: no title"
    assert meta.owner.strip(), f"{path}: no owner"
    assert meta.language in DOC_LANGUAGES, f"{path}: language {meta.language!r}"
    assert meta.valid_from < meta.review_date, f"{path}: valid_from must be before review_date"
    if meta.fmt == "pdf":
        assert meta.pages is not None
        assert meta.pages >= 2, f"{path}: PDFs must have at least two pages"
        text = "".join(page.extract_text() or "" for page in PdfReader(path).pages)
        assert len(text.split()) > 150, f"{path}: no usable text layer"
    if meta.fmt == "docx":
        styles = {p.style.name for p in Document(str(path)).paragraphs if p.style is not None}
        assert {"Heading 1", "Heading 2"} <= styles, f"{path}: DOCX must use real heading styles"


def test_versions_and_tricky_cases(documents: dict[str, DocMeta]) -> None:
    for doc in documents.values():
        if doc.replaces:
            assert doc.replaces in documents, f"{doc.doc_id} replaces unknown {doc.replaces}"
            old = documents[doc.replaces]
            assert old.valid_from < doc.valid_from, f"{doc.doc_id} must be newer than {old.doc_id}"
            assert doc.version > old.version
    new = documents["forskola-sjukdom-2024"]
    assert new.replaces == "forskola-sjukdom-2023"
    assert new.version == 2
    assert {"hemtjanst-fall", "hemtjanst-fall-natt", "general-kontakter"} <= documents.keys()
    injected = (KNOWLEDGE / "library" / "bibliotek-inkopsforslag.md").read_text(encoding="utf-8")
    assert "Ignore previous instructions" in injected


def test_document_counts(documents: dict[str, DocMeta]) -> None:
    docs = list(documents.values())
    by_format = Counter(d.fmt for d in docs)
    by_language = Counter(d.language for d in docs)
    by_collection = Counter(d.collection for d in docs)
    print("\nDocuments per collection, format and language")
    print(
        f"{'collection':<12}"
        + "".join(f"{f:>6}" for f in FORMATS)
        + "".join(f"{lang:>6}" for lang in DOC_LANGUAGES)
        + f"{'total':>7}"
    )
    for c in COLLECTIONS:
        row = [d for d in docs if d.collection == c]
        print(
            f"{c:<12}"
            + "".join(f"{sum(d.fmt == f for d in row):>6}" for f in FORMATS)
            + "".join(f"{sum(d.language == lang for d in row):>6}" for lang in DOC_LANGUAGES)
            + f"{len(row):>7}"
        )
    print(
        f"{'total':<12}"
        + "".join(f"{by_format[f]:>6}" for f in FORMATS)
        + "".join(f"{by_language[lang]:>6}" for lang in DOC_LANGUAGES)
        + f"{len(docs):>7}"
    )

    assert len(docs) >= 60
    assert all(by_collection[c] > 0 for c in COLLECTIONS)
    assert by_format["pdf"] >= 10
    assert by_format["docx"] >= 5
    assert by_format["html"] >= 5
    assert by_language["en"] >= 10
    assert by_language["sv"] > by_language["en"]


def test_built_documents_match_sources(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_knowledge", BUILD_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses with postponed annotations look their module up in sys.modules.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    written = module.build(tmp_path)
    built = {p.relative_to(tmp_path) for p in written}
    committed = {p.relative_to(KNOWLEDGE) for p in document_paths() if p.suffix in (".pdf", ".docx")}
    assert built == committed, "every PDF/DOCX in knowledge/ must have a source in scripts/knowledge_src/"
    for rel in sorted(built):
        assert (tmp_path / rel).read_bytes() == (KNOWLEDGE / rel).read_bytes(), (
            f"{rel} differs from its source: run python scripts/build_knowledge.py"
        )


# ---------------------------------------------------------------- evaluation rows


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class EvalRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^(dev|test)-\d{3}$")
    question: str = Field(min_length=3)
    language: Literal[QUESTION_LANGUAGES]  # type: ignore[valid-type]
    role: Literal["home-care", "preschool", "library", "admin"]
    reference_answer: str = Field(min_length=3)
    reference_sources: list[str]
    answerable: bool
    turns: list[Turn]
    tags: list[Tag]

    @model_validator(mode="after")
    def _consistent(self) -> EvalRow:
        refusal_tags = {"role_blocked", "not_covered"} & set(self.tags)
        if self.answerable:
            assert not refusal_tags, "an answerable row cannot be tagged as a refusal"
            assert self.reference_sources, "an answerable row needs reference_sources"
        else:
            assert refusal_tags, "a refusal needs the tag role_blocked or not_covered"
        if "not_covered" in self.tags:
            assert not self.reference_sources, "not_covered rows list no sources"
        if "role_blocked" in self.tags:
            assert self.reference_sources, "role_blocked rows list the document the role may not read"
        assert ("multi_turn" in self.tags) == bool(self.turns), "multi_turn tag and turns must go together"
        if self.turns:
            assert self.turns[0].role == "user"
            assert self.turns[-1].role == "assistant", "the question follows the last assistant turn"
        if "multi_doc" in self.tags:
            assert len(self.reference_sources) >= 2
        assert len(set(self.tags)) == len(self.tags)
        return self


def load_rows(split: str) -> list[EvalRow]:
    lines = (EVAL_SETS / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [EvalRow.model_validate(json.loads(line)) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def eval_rows() -> dict[str, list[EvalRow]]:
    return {split: load_rows(split) for split in ("dev", "test")}


def test_eval_rows_valid(eval_rows: dict[str, list[EvalRow]], documents: dict[str, DocMeta]) -> None:
    all_rows = [r for rows in eval_rows.values() for r in rows]
    ids = [r.id for r in all_rows]
    assert len(ids) == len(set(ids)), "eval ids must be unique"
    questions = [(r.question, r.role, tuple(t.content for t in r.turns)) for r in all_rows]
    assert len(questions) == len(set(questions)), "duplicate questions"
    for split, rows in eval_rows.items():
        assert all(r.id.startswith(f"{split}-") for r in rows)
    for row in all_rows:
        for doc_id in row.reference_sources:
            assert doc_id in documents, f"{row.id}: unknown doc id {doc_id}"
        readable = {documents[d].collection in ROLE_COLLECTIONS[row.role] for d in row.reference_sources}
        if row.answerable:
            assert readable == {True}, f"{row.id}: role {row.role} cannot read all its sources"
        if "role_blocked" in row.tags:
            assert row.role != "admin"
            assert readable == {False}, f"{row.id}: role_blocked sources must be outside the role's collections"
        if "version" in row.tags:
            replaced = {d.replaces for d in documents.values() if d.replaces}
            assert not replaced & set(row.reference_sources), f"{row.id}: cite the newer version only"


def test_eval_counts(eval_rows: dict[str, list[EvalRow]]) -> None:
    all_rows = [r for rows in eval_rows.values() for r in rows]
    print("\nEval rows per split, language and tag")
    for split, rows in eval_rows.items():
        langs = Counter(r.language for r in rows)
        tags = Counter(t for r in rows for t in r.tags)
        print(
            f"{split:<5} rows={len(rows):<4} refuse={sum(not r.answerable for r in rows):<3} "
            f"languages={dict(sorted(langs.items()))}"
        )
        print(f"      tags={dict(sorted(tags.items()))}")

    assert len(all_rows) >= 200
    other = [r for r in all_rows if r.language in OTHER_LANGUAGES]
    assert len(other) >= 40
    assert len({r.language for r in other}) >= 4
    assert sum(not r.answerable for r in all_rows) >= 30
    assert sum("multi_turn" in r.tags for r in all_rows) >= 15
    assert sum("multi_doc" in r.tags for r in all_rows) >= 5
    assert sum("version" in r.tags for r in all_rows) >= 5
    assert sum("injection" in r.tags for r in all_rows) >= 1
    assert sum("day_night" in r.tags for r in all_rows) >= 5

    dev, test = len(eval_rows["dev"]), len(eval_rows["test"])
    assert 0.3 <= dev / (dev + test) <= 0.5, "split dev/test about 40/60"
    tags_everywhere = {
        "multi_turn",
        "multi_doc",
        "version",
        "numbers",
        "injection",
        "misspelled",
        "role_blocked",
        "not_covered",
        "day_night",
    }
    for split, rows in eval_rows.items():
        present = {t for r in rows for t in r.tags}
        assert tags_everywhere <= present, f"{split} lacks {tags_everywhere - present}"
        assert len({r.language for r in rows if r.language in OTHER_LANGUAGES}) >= 4
        assert {r.role for r in rows} == set(ROLE_COLLECTIONS)


def test_cross_language_tag(eval_rows: dict[str, list[EvalRow]], documents: dict[str, DocMeta]) -> None:
    """`cross_language` marks a question asked in another language than a routine it is about."""
    for row in (r for rows in eval_rows.values() for r in rows):
        if "cross_language" in row.tags and row.reference_sources:
            langs = {documents[d].language for d in row.reference_sources}
            assert row.language not in langs or len(langs) > 1, f"{row.id}: tagged cross_language, same language"


# ---------------------------------------------------------------- training rows (the answerability model)


class TrainRow(BaseModel):
    """One row of eval_sets/train.jsonl: a question, and the routine text that answers it or the routine it nears."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^train-[a-z_]+-\d{4}$")
    question: str = Field(min_length=2)
    language: str = Field(pattern=r"^[a-z]{2}$")
    role: Literal["home-care", "preschool", "library", "admin"]
    answerable: bool
    reference_sources: list[str]
    evidence: list[str]
    near_sources: list[str]
    kind: Literal["answerable", "near_miss", "off_topic"]
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> TrainRow:
        assert self.answerable == (self.kind == "answerable")
        if self.answerable:
            assert self.reference_sources and self.evidence and not self.near_sources
        else:
            assert not self.reference_sources and not self.evidence
        return self


def _plain(text: str) -> str:
    """A routine's text as a reader sees it: no Markdown emphasis, list markers or HTML tags, single spaces."""
    text = re.sub(r"<[^>]+>", " ", text).replace("**", "")
    text = " ".join(re.sub(r"^\s*(?:[-*]|\d+\.)\s+", "", line) for line in text.splitlines()).replace("|", " ")
    return re.sub(r"\s+([.,;:!?)])", r"\1", " ".join(text.split()))


def test_training_rows(documents: dict[str, DocMeta]) -> None:
    """Every training row parses, names routines that exist and its role may read, quotes evidence that stands in
    the routine, and repeats no evaluation question (dev and test stay unseen by the model)."""
    rows = [TrainRow.model_validate_json(line) for line in (EVAL_SETS / "train.jsonl").read_text("utf-8").splitlines()]
    assert len(rows) >= 600
    assert len({r.id for r in rows}) == len(rows)
    evaluated = {r.question.strip().lower() for split in ("dev", "test") for r in load_rows(split)}
    texts: dict[str, str] = {}
    for path in document_paths():
        source = ROOT / "scripts" / "knowledge_src" / path.parent.name / f"{path.stem}.md"
        raw = source.read_text("utf-8") if path.suffix in (".pdf", ".docx") else path.read_text("utf-8")
        texts[path.stem] = " ".join(_plain(raw).split())
    for r in rows:
        assert r.question.strip().lower() not in evaluated, f"{r.id} repeats an evaluation question"
        for d in r.reference_sources + r.near_sources:
            assert d in documents, f"{r.id}: unknown doc id {d}"
        if r.answerable and r.role != "admin":
            assert all(documents[d].collection in ROLE_COLLECTIONS[r.role] for d in r.reference_sources), r.id
        for e in r.evidence:
            wanted = " ".join(_plain(e).split())
            assert any(wanted in texts[d] for d in r.reference_sources), f"{r.id}: evidence not in its routine: {e}"
    langs = Counter(r.language for r in rows)
    print(f"\ntraining rows={len(rows)} answerable={sum(r.answerable for r in rows)} languages={dict(langs)}")
    assert len([lang for lang in langs if lang not in ("sv", "en")]) >= 8
