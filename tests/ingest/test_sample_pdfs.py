"""Real-world odd PDFs (py-pdf/sample-files): each one is either read into chunks or refused with a clear reason."""

from pathlib import Path

import pytest

from ingest.convert import ConversionError, check_readable, convert
from ingest.pipeline import discover_entries, make_chunks, source_of

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "sample-pdfs"
CLEAR_REASONS = ("encrypted PDF", "scanned: needs OCR", "corrupt PDF", "unsupported file type", "empty file")
#: What this collection must keep giving: files refused, and why (everything else must be ingested).
EXPECTED_REFUSED = {
    "005-libreoffice-writer-password_libreoffice-writer-password.pdf": "encrypted PDF",
    "007-imagemagick-images_imagemagick-ASCII85Decode.pdf": "scanned: needs OCR",
    "007-imagemagick-images_imagemagick-CCITTFaxDecode.pdf": "scanned: needs OCR",
    "007-imagemagick-images_imagemagick-lzw.pdf": "scanned: needs OCR",
    "017-unreadable-meta-data_unreadablemetadata.pdf": "corrupt PDF",
    "019-grayscale-image_grayscale-image.pdf": "scanned: needs OCR",
    "023-cmyk-image_cmyk-image.pdf": "scanned: needs OCR",
    "LICENSE": "unsupported file type",
    "files.json": "unsupported file type",
}


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"{SAMPLES} is absent")
def test_every_sample_pdf_is_ingested_or_reported_with_a_reason():
    refused: dict[str, str] = {}
    chunks = 0
    for entry in discover_entries(SAMPLES, "general"):
        assert not entry.problem
        try:
            check_readable(entry.path)
            src = convert(entry.path)
        except ConversionError as exc:
            assert str(exc).startswith(CLEAR_REASONS), f"{entry.path.name}: unclear reason {exc}"
            refused[entry.path.name] = str(exc)
            continue
        docs = make_chunks(src, "general", source_of(entry), "h")
        assert docs, f"{entry.path.name}: converted but gave no chunks"
        chunks += len(docs)
    assert {name: next(r for r in CLEAR_REASONS if reason.startswith(r)) for name, reason in refused.items()} == (
        EXPECTED_REFUSED
    )
    assert chunks > 100
