"""A hostile or careless folder: links out of it, cross-collection `replaces`, conversion bombs, very long files."""

import os
import zipfile
from pathlib import Path

import pytest

from assist.components.edge_store import EdgeDocumentStore
from assist.components.retriever import ScopedRetriever
from assist.settings import Settings
from ingest.convert import ConversionError, convert
from ingest.pipeline import Ingestor, discover_entries
from tests.ingest.test_pipeline import run, settings_for

SECRET = "root:x:0:0:root:/root:/bin/bash"


def payloads(store: Path) -> list[dict]:
    s = EdgeDocumentStore(path=str(store), create=False)
    try:
        return [{**p["meta"], "content": p.get("content", "")} for p in s.filter_payloads()]
    finally:
        s.close()


def test_links_are_refused_and_nothing_outside_the_folder_is_read(kb: Path, tmp_path: Path):
    outside = tmp_path / "outside"
    (outside / "etc").mkdir(parents=True)
    (outside / "passwd.txt").write_text(f"Konton\n\n{SECRET}\n", encoding="utf-8")
    (outside / "etc" / "shadow.txt").write_text(f"Skuggan\n\n{SECRET}\n", encoding="utf-8")
    (outside / "hard.txt").write_text(f"Hård\n\n{SECRET}\n", encoding="utf-8")
    general = kb / "general"
    general.mkdir()
    (general / "passwd.txt").symlink_to(outside / "passwd.txt")  # a file link out of the folder
    (general / "etc_link").symlink_to(outside / "etc")  # a folder link out of the folder
    (kb / "library" / "hc").symlink_to(kb / "home_care")  # a folder link into another collection
    (general / "step.txt").symlink_to(general / "passwd.txt")  # a chain: link -> link -> outside
    (general / "alias.md").symlink_to(kb / "home_care" / "hygien.md")  # even a link to a file inside
    os.link(outside / "hard.txt", general / "hard.txt")  # a second name for a file outside

    report = run([kb], tmp_path / "store")

    reasons = {f.path: f.reason for f in report.failed}
    links = ["kb/general/passwd.txt", "kb/general/etc_link", "kb/library/hc", "kb/general/step.txt",
             "kb/general/alias.md"]
    assert reasons.keys() == {*links, "kb/general/hard.txt"}, reasons
    for path in links:
        assert reasons[path].startswith("symbolic link: not followed"), reasons[path]
    assert reasons["kb/general/hard.txt"].startswith("hard link"), reasons["kb/general/hard.txt"]
    assert report.counts() == {"ingested": 5, "failed": 6}
    stored = payloads(tmp_path / "store")
    assert not any(SECRET in p["content"] for p in stored)
    assert {p["doc_id"] for p in stored if p["collection"] == "library"} == {"oppettider", "utlan"}
    assert {p["collection"] for p in stored} == {"home_care", "library"}


def test_a_file_swapped_for_a_link_after_the_walk_is_not_read(kb: Path, tmp_path: Path):
    (tmp_path / "secret.txt").write_text(f"Hemligt\n\n{SECRET}\n", encoding="utf-8")
    entry = next(e for e in discover_entries(kb, None) if e.path.name == "utlan.txt")
    assert entry.ident is not None
    entry.path.unlink()
    entry.path.symlink_to(tmp_path / "secret.txt")
    with pytest.raises(ConversionError, match="symbolic link"):
        convert(entry.path, ident=entry.ident)
    # a folder above it swapped for a link to a folder holding a file of the same name
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "utlan.txt").write_text(f"Lån\n\n{SECRET}\n", encoding="utf-8")
    entry.path.unlink()
    (kb / "library").rename(tmp_path / "library-moved")
    (kb / "library").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConversionError, match="replaced while"):
        convert(entry.path, ident=entry.ident)


def test_glossaries_are_not_routines(kb: Path, tmp_path: Path):
    (kb / "home_care" / "glossary.md").write_text("# Ordlista\n\nbrukare: den som får hjälp", encoding="utf-8")
    (kb / "GLOSSARY.txt").write_text("Ordlista\n\nlån: ett utlån", encoding="utf-8")
    names = {e.path.name for e in discover_entries(kb, None)}
    assert "glossary.md" not in names and "GLOSSARY.txt" not in names
    report = run([kb], tmp_path / "store")
    assert report.counts() == {"ingested": 5}


REPLACING = """---
title: {title}
replaces: {replaces}
valid_from: 2024-01-01
---
# {title}

{body}
"""


def test_replaces_names_only_a_document_of_the_same_collection(kb: Path, tmp_path: Path):
    lib = kb / "library"
    (lib / "bok.md").write_text(REPLACING.format(title="Boklån", replaces="hygien", body="Böcker lånas i disken."),
                                encoding="utf-8")
    (lib / "ny.md").write_text(REPLACING.format(title="Nytt", replaces="finns-inte", body="Ny rutin för lån."),
                               encoding="utf-8")
    # sorted before the document it replaces, which the same run ingests
    (lib / "a-lan.md").write_text(REPLACING.format(title="Lån", replaces="utlan", body="Lånetiden är tre veckor."),
                                  encoding="utf-8")
    store = tmp_path / "store"
    report = run([kb], store)

    assert report.counts() == {"ingested": 8}
    notes = {f.path: " ".join(f.notes) for f in report.files}
    assert "'replaces: hygien' ignored" in notes["kb/library/bok.md"] and "home_care" in notes["kb/library/bok.md"]
    assert "'replaces: finns-inte' ignored" in notes["kb/library/ny.md"]
    assert "ignored" not in notes["kb/library/a-lan.md"]
    replaces = {p["doc_id"]: p["replaces"] for p in payloads(store)}
    assert replaces["bok"] == "" and replaces["ny"] == "" and replaces["a-lan"] == "utlan"
    s = EdgeDocumentStore(path=str(store), create=False)
    try:
        assert ScopedRetriever(document_store=s).replaced() == ["utlan"]
    finally:
        s.close()


def docx_bomb(path: Path, paragraphs: int) -> None:
    """A small .docx with a huge number of tiny paragraphs (the XML compresses to almost nothing)."""
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/'
          'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
          'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/'
          'document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+'
          'xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
            '</Relationships>')
    body = '<w:p><w:r><w:t>x</w:t></w:r></w:p>' * paragraphs
    doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.'
           f'openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        z.writestr("word/document.xml", doc)


def limited(store: Path, **ingest: float) -> Settings:
    settings = settings_for(store)
    settings.ingest = settings.ingest.model_copy(update=ingest)
    return settings


def test_a_file_past_the_time_limit_is_stopped_and_the_rest_ingested(kb: Path, tmp_path: Path):
    docx_bomb(kb / "home_care" / "bomb.docx", 1_000_000)
    ing = Ingestor(limited(tmp_path / "store", convert_timeout_s=3))
    try:
        report = ing.ingest([kb])
    finally:
        ing.close()
    assert [(f.path, f.reason.split(":")[0]) for f in report.failed] == [
        ("kb/home_care/bomb.docx", "took longer than 3 s to convert")
    ]
    assert report.counts() == {"ingested": 5, "failed": 1}


def test_a_file_past_the_memory_limit_is_stopped_and_the_rest_ingested(kb: Path, tmp_path: Path):
    docx_bomb(kb / "home_care" / "bomb.docx", 1_000_000)
    ing = Ingestor(limited(tmp_path / "store", convert_memory_mb=64))
    try:
        report = ing.ingest([kb])
    finally:
        ing.close()
    assert [(f.path, f.reason.split(":")[0]) for f in report.failed] == [
        ("kb/home_care/bomb.docx", "needed more than 64 MB to convert")
    ]
    assert report.counts() == {"ingested": 5, "failed": 1}


def long_text(paragraphs: int) -> str:
    """A plain-text routine of many distinct paragraphs (about four per chunk)."""
    lines = ["Lång rutin"]
    for n in range(paragraphs):
        lines.append(f"Steg {n}: personalen kontrollerar punkt {n} i listan och skriver upp resultatet i journalen. "
                     f"Avvikelse nummer {n} rapporteras samma dag till chefen, som följer upp den inom en vecka.")
    return "\n\n".join(lines)


def test_a_long_file_is_embedded_and_written_in_bounded_batches(kb: Path, tmp_path: Path):
    (kb / "home_care" / "lang.txt").write_text(long_text(120), encoding="utf-8")
    ing = Ingestor(settings_for(tmp_path / "store"), batch_chunks=4)
    sizes: list[int] = []
    real_run = ing.pipeline.run

    def counting_run(data: dict, **kw):
        sizes.append(len(data["embedder"]["documents"]))
        return real_run(data, **kw)

    ing.pipeline.run = counting_run
    progress: list[tuple[int, int]] = []
    try:
        report = ing.ingest([kb], on_chunks=lambda src, done, total: progress.append((done, total))
                            if src.endswith("lang.txt") else None)
    finally:
        ing.close()
    lang = next(f for f in report.files if f.path.endswith("lang.txt"))
    assert lang.status == "ingested" and lang.chunks > 12
    assert max(sizes) <= 4 and sum(sizes) == sum(f.chunks for f in report.files)
    assert len(progress) >= lang.chunks // 4 and progress[-1] == (lang.chunks, lang.chunks)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    stored = [p for p in payloads(tmp_path / "store") if p["doc_id"] == "lang"]
    assert sorted(p["chunk"] for p in stored) == list(range(lang.chunks))


def test_a_store_written_before_the_check_still_hides_nothing_across_collections(
    kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from ingest import pipeline  # noqa: PLC0415

    monkeypatch.setattr(pipeline, "_check_replaces", lambda *a: "")  # the ingest as it was: every `replaces` kept
    lib = kb / "library"
    (lib / "bok.md").write_text(REPLACING.format(title="Boklån", replaces="hygien", body="Böcker lånas i disken."),
                                encoding="utf-8")
    (lib / "a-lan.md").write_text(REPLACING.format(title="Lån", replaces="utlan", body="Lånetiden är tre veckor."),
                                  encoding="utf-8")
    store = tmp_path / "store"
    run([kb], store)
    assert {p["doc_id"]: p["replaces"] for p in payloads(store)}["bok"] == "hygien"
    s = EdgeDocumentStore(path=str(store), create=False)
    try:
        assert ScopedRetriever(document_store=s).replaced() == ["utlan"]
    finally:
        s.close()


def test_the_cli_follows_a_long_file_with_a_bar_of_its_own(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from ingest import cli  # noqa: PLC0415

    (kb / "home_care" / "lang.txt").write_text(long_text(40), encoding="utf-8")
    monkeypatch.setattr(cli, "LONG_FILE_CHUNKS", 3)
    seen: list[tuple[str, int, int]] = []
    real_ingest = Ingestor.ingest

    def spying_ingest(self, *a, **kw):
        inner = kw["on_chunks"]

        def on_chunks(source: str, written: int, total: int) -> None:
            seen.append((source, written, total))
            inner(source, written, total)

        return real_ingest(self, *a, **{**kw, "on_chunks": on_chunks})

    monkeypatch.setattr(Ingestor, "ingest", spying_ingest)
    assert cli.run_ingest([kb], store=tmp_path / "store") == 0
    assert any(src.endswith("lang.txt") and written == total > 3 for src, written, total in seen)
