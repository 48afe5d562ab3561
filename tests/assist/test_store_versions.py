"""Store versions on real Qdrant Edge shards: publish and switch, one writer at a time, the old layout, damage."""

import os
import shutil
from pathlib import Path

import pytest
from haystack import Document

from assist import store
from assist.components.bm25_embedder import Bm25DocumentSparseEmbedder
from assist.components.e5_embedder import E5DocumentEmbedder
from assist.components.edge_store import EdgeDocumentStore
from assist.errors import StoreBusyError, StoreDamagedError

TEXTS = [
    "Ring sjuksköterskan inom 15 minuter när en brukare har fallit.",
    "Nycklar förvaras i det låsta nyckelskåpet och kvitteras i loggen.",
    "Avgiften för förskolan är högst 1 688 kronor per månad.",
    "Barnet ska vara feberfritt i ett dygn innan det kommer tillbaka.",
    "Grupprum kan bokas högst tre timmar per dag.",
    "E-böcker lånas i appen med lånekortet och pinkoden.",
]


@pytest.fixture(scope="module")
def docs() -> list[Document]:
    made = [Document(content=t, meta={"collection": "general", "doc_id": f"d{i}"}) for i, t in enumerate(TEXTS)]
    return Bm25DocumentSparseEmbedder().run(E5DocumentEmbedder().run(made)["documents"])["documents"]


def publish(root: Path, docs: list[Document]) -> str:
    writer = EdgeDocumentStore(path=str(root))
    writer.write_documents(docs)
    name = writer.publish()
    assert name
    return name


def reader(root: Path) -> EdgeDocumentStore:
    return EdgeDocumentStore(path=str(root), create=False)


def versions(root: Path) -> list[str]:
    return sorted(p.name for p in (root / store.VERSIONS_DIR).iterdir())


def test_reader_switches_to_a_published_version_after_the_request_that_pinned_the_old_one(tmp_path, docs):
    root = tmp_path / "qdrant"
    first = publish(root, docs[:3])
    r = reader(root)
    assert r.count_documents() == 3
    with r.pinned():
        # An ingest writes and publishes while a request is answered from the first version.
        second = publish(root, docs[3:])
        assert r.count_documents() == 3
        assert first in versions(root)  # still open for the request: not removed
    assert r.count_documents() == len(TEXTS)
    assert r.version == second
    assert versions(root) == [second]  # the old version went once its last request ended
    r.close()


def test_a_second_writer_is_refused_with_the_first_ones_pid(tmp_path, docs):
    root = tmp_path / "qdrant"
    first = EdgeDocumentStore(path=str(root))
    first.begin()
    second = EdgeDocumentStore(path=str(root))
    with pytest.raises(StoreBusyError, match=rf"another ingest is running \(pid {os.getpid()}\)"):
        second.begin()
    first.write_documents(docs[:2])
    first.close()
    second.write_documents(docs[2:3])
    second.close()
    r = reader(root)
    assert r.count_documents() == 3
    r.close()


def test_writer_that_writes_nothing_publishes_nothing(tmp_path, docs):
    root = tmp_path / "qdrant"
    name = publish(root, docs[:2])
    idle = EdgeDocumentStore(path=str(root))
    idle.begin()
    idle.close()
    assert (root / store.CURRENT_FILE).read_text().strip() == name
    assert versions(root) == [name]


def test_store_in_the_old_layout_is_read_in_place_then_migrated_by_the_next_ingest(tmp_path, docs):
    built = tmp_path / "built"
    name = publish(built, docs[:3])
    legacy = tmp_path / "legacy"
    store.copy_shard(built / store.VERSIONS_DIR / name, legacy)  # a shard directly in the folder, as stores were
    assert not (legacy / store.CURRENT_FILE).exists()
    r = reader(legacy)
    assert r.count_documents() == 3
    assert r.version == store.LEGACY
    new = publish(legacy, docs[3:4])
    assert r.count_documents() == 4  # switched to the migrated version
    assert r.version == new
    assert not (legacy / "edge_config.json").exists()  # the old files went once no reader held them
    assert not (legacy / "wal").exists()
    r.close()
    again = reader(legacy)
    assert again.count_documents() == 4
    again.close()


@pytest.fixture
def built(tmp_path, docs) -> Path:
    root = tmp_path / "qdrant"
    publish(root, docs)
    return root


def shard_file(root: Path, pattern: str) -> Path:
    name = (root / store.CURRENT_FILE).read_text().strip()
    found = sorted((root / store.VERSIONS_DIR / name).glob(pattern))
    assert found, pattern
    return found[0]


def garble_vectors(root: Path) -> None:
    path = shard_file(root, "segments/*/vector_storage-text-dense/vectors/chunk_0.mmap")
    with open(path, "r+b") as f:
        f.write(os.urandom(len(TEXTS) * 384 * 4))


def remove_payload_page(root: Path) -> None:
    shard_file(root, "segments/*/payload_storage/page_0.dat").unlink()


def remove_wal(root: Path) -> None:
    shutil.rmtree(shard_file(root, "wal"))


@pytest.mark.parametrize("damage", [garble_vectors, remove_payload_page, remove_wal])
def test_damaged_store_is_refused_with_a_recovery_hint_and_no_path(built, damage):
    damage(built)
    r = reader(built)
    with pytest.raises(StoreDamagedError) as caught:
        r.count_documents()
    text = str(caught.value)
    assert "--rebuild" in text
    assert "snapshot" in text
    assert str(built) not in text
    assert str(built.parent) not in text


@pytest.mark.parametrize("damage", [garble_vectors, remove_payload_page, remove_wal])
def test_damage_to_a_store_in_use_is_noticed(built, damage):
    r = reader(built)
    assert r.count_documents() == len(TEXTS)
    assert r.health() is None
    damage(built)
    with pytest.raises(StoreDamagedError), r.pinned():  # the next question notices: a stat of each file
        pass
    problem = r.health()
    assert problem is not None
    assert "damaged" in problem
    assert str(built) not in problem
    with pytest.raises(StoreDamagedError):
        r.count_documents()
    r.close()


def test_damaged_vectors_without_a_manifest_are_found_by_the_probe(built):
    (shard_file(built, store.MANIFEST_FILE)).unlink()
    garble_vectors(built)
    with pytest.raises(StoreDamagedError, match="sampled vectors"):
        reader(built).count_documents()


def test_rebuild_replaces_a_damaged_store_and_a_reader_recovers(built, docs):
    r = reader(built)
    assert r.count_documents() == len(TEXTS)
    garble_vectors(built)
    assert r.health() is not None
    with pytest.raises(StoreDamagedError):
        EdgeDocumentStore(path=str(built)).begin()  # an update would copy the damage
    fresh = EdgeDocumentStore(path=str(built))
    fresh.begin(fresh=True)
    fresh.write_documents(docs[:4])
    fresh.close()
    assert r.health() is None
    assert r.count_documents() == 4
    r.close()


def leave_unpublished(root: Path, docs: list[Document]) -> Path:
    """What a writer killed part-way leaves: a written, unpublished version and no locks (they die with it)."""
    killed = EdgeDocumentStore(path=str(root))
    killed.write_documents(docs)
    work, version = killed._work, killed._open
    assert work is not None and version is not None
    version.shard.close()
    work.lease.release()
    work.lock.release()
    return work.folder


def test_unpublished_version_of_a_killed_writer_is_taken_up_by_the_next(tmp_path, docs):
    root = tmp_path / "qdrant"
    publish(root, docs[:2])
    left = leave_unpublished(root, docs[2:4])
    nxt = EdgeDocumentStore(path=str(root))
    nxt.begin()
    assert nxt.version == left.name
    assert nxt.publish() == left.name  # published although this run wrote nothing new
    r = reader(root)
    assert r.count_documents() == 4
    r.close()


def test_unpublished_version_that_cannot_be_opened_is_dropped_and_the_next_starts_over(tmp_path, docs):
    root = tmp_path / "qdrant"
    publish(root, docs[:2])
    left = leave_unpublished(root, docs[2:4])
    next(left.glob("segments/*/payload_storage/page_0.dat")).unlink()
    nxt = EdgeDocumentStore(path=str(root))
    nxt.begin()
    assert nxt.version != left.name
    assert not left.exists()
    assert nxt.count_documents() == 2
    nxt.write_documents(docs[4:5])
    nxt.close()
    r = reader(root)
    assert r.count_documents() == 3
    r.close()
