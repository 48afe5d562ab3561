"""A store file changed in place with its size and time kept: found by the checksum check in the background, at a
version switch and periodically, after which the version is no longer served (real Qdrant Edge shards)."""

import os
import time
from pathlib import Path

import pytest
from haystack import Document

from assist import store
from assist.components.bm25_embedder import Bm25DocumentSparseEmbedder
from assist.components.e5_embedder import E5DocumentEmbedder
from assist.components.edge_store import EdgeDocumentStore
from assist.errors import StoreDamagedError

TEXTS = [
    "Ring sjuksköterskan inom 15 minuter när en brukare har fallit.",
    "Nycklar förvaras i det låsta nyckelskåpet och kvitteras i loggen.",
    "Avgiften för förskolan är högst 1 688 kronor per månad.",
    "Grupprum kan bokas högst tre timmar per dag.",
]
WAIT_S = 60  # a deadline for the background thread, not a timing: it is woken at once


@pytest.fixture(scope="module")
def docs() -> list[Document]:
    made = [
        Document(content=t, meta={"collection": "home_care" if i % 2 else "general", "doc_id": f"d{i}"})
        for i, t in enumerate(TEXTS)
    ]
    return Bm25DocumentSparseEmbedder().run(E5DocumentEmbedder().run(made)["documents"])["documents"]


def publish(root: Path, docs: list[Document], *, fresh: bool = False) -> str:
    writer = EdgeDocumentStore(path=str(root))
    writer.begin(fresh=fresh)
    writer.write_documents(docs)
    name = writer.publish()
    assert name
    return name


def change_in_place(root: Path, version: str) -> None:
    """Write one byte into the preallocated part of the version's vector file that no point uses, keeping the file's
    size and its times: a stat sees nothing, the probe reads only the points' vectors, only a checksum tells."""
    found = sorted((root / store.VERSIONS_DIR / version).glob("segments/*/vector_storage-text-dense/vectors/*.mmap"))
    assert found
    path = found[0]
    before = path.stat()
    with open(path, "r+b") as f:
        f.seek(len(TEXTS) * 384 * 4 + 4096 * 3 + 17)
        f.write(b"\x5a")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def wait_for_damage(reader: EdgeDocumentStore) -> str:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        problem = reader.health()
        if problem:
            return problem
        time.sleep(0.05)
    pytest.fail("the background check did not find the changed file")


def test_a_change_that_keeps_size_and_time_is_found_by_the_periodic_check(tmp_path, docs):
    root = tmp_path / "qdrant"
    name = publish(root, docs)
    reader = EdgeDocumentStore(path=str(root), create=False, verify_interval_s=0.1)
    try:
        assert reader.count_documents() == len(TEXTS)
        change_in_place(root, name)
        problem = wait_for_damage(reader)
        assert "do not match their checksum" in problem
        assert "vectors" in problem
        assert str(root) not in problem
        with pytest.raises(StoreDamagedError), reader.pinned():  # a question is no longer answered from it
            pass
        with pytest.raises(StoreDamagedError):
            reader.count_documents()
    finally:
        reader.close()


def test_a_version_switched_to_is_checked_at_once_and_a_new_one_recovers(tmp_path, docs):
    root = tmp_path / "qdrant"
    first = publish(root, docs[:2])
    reader = EdgeDocumentStore(path=str(root), create=False, verify_interval_s=3600)  # only the switch wakes it
    try:
        assert reader.count_documents() == 2
        assert reader.check_in_use() is None
        # An ingest publishes a version, and one of its files is changed in place before the service opens it.
        second = publish(root, docs[2:])
        change_in_place(root, second)
        assert reader.count_documents() == len(TEXTS)  # the switch: sizes and the probe pass
        assert reader.version == second
        assert "checksum" in wait_for_damage(reader)
        with pytest.raises(StoreDamagedError):
            reader.count_documents()
        # A rebuild publishes a sound version: the service switches to it and answers again.
        third = publish(root, docs[:3], fresh=True)
        assert reader.count_documents() == 3
        assert reader.version == third != first
        assert reader.check_in_use() is None
        assert reader.health() is None
    finally:
        reader.close()


def test_no_background_check_without_an_interval(tmp_path, docs):
    """A writer and a reader without an interval start no thread (the CLI's stores, ingest)."""
    root = tmp_path / "qdrant"
    publish(root, docs)
    reader = EdgeDocumentStore(path=str(root), create=False)
    try:
        assert reader.count_documents() == len(TEXTS)
        assert reader._verifier is None  # noqa: SLF001
    finally:
        reader.close()
