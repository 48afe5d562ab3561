"""Shared fixtures: a small real store built with the real ingest pipeline and packaged embedding model."""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

from haystack import component  # noqa: E402
from haystack.dataclasses import ChatMessage  # noqa: E402

from assist.settings import Settings  # noqa: E402
from tests.servers import free_port, stop  # noqa: E402, F401 - free_port is imported from here by many tests

DATA = Path(__file__).parent / "assist" / "data"
#: A city's roles file with seven roles (an owner, a role reading two collections, one reading only `general`).
ROLES_CITY = Path(__file__).parent / "data" / "roles_city.toml"


def write_pdf(path: Path, title: str, pages: list[list[str]]) -> None:
    """A real multi-page PDF with a text layer and an info dictionary."""
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    story: list = []
    for i, paras in enumerate(pages):
        if i:
            story.append(PageBreak())
        story.extend(Paragraph(p, styles["BodyText"]) for p in paras)
    SimpleDocTemplate(str(path), title=title, author="Hemtjänsten").build(story)


def build_corpus(root: Path) -> Path:
    """Copy the Markdown fixtures and add a PDF whose answer sits on page 2."""
    corpus = root / "corpus"
    shutil.copytree(DATA, corpus)
    write_pdf(
        corpus / "home_care" / "medicin-delegering.pdf",
        "Läkemedel och delegering",
        [
            [
                "Läkemedel och delegering i hemtjänsten.",
                "Syfte: rutinen beskriver hur personal med delegering hjälper brukare med läkemedel.",
                "Omfattning: gäller all personal i hemtjänsten som har en skriftlig delegering.",
            ],
            [
                "Glömd dos: om brukaren har glömt att ta sin medicin ska du ringa sjuksköterskan "
                "på 08-123 45 67 innan nästa dos ges.",
                "Ge aldrig dubbel dos för att ta igen en glömd dos.",
            ],
        ],
    )
    return corpus


def make_settings(tmp: Path, **overrides: object) -> Settings:
    """Settings with the store and data under tmp."""
    return Settings(data_dir=tmp, qdrant={"path": tmp / "qdrant"}, **overrides)


@component
class RecordingChatGenerator:
    """Stands in for a remote LLM: records exactly what would be sent to it, and answers `reply`."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.sent: list[str] = []

    @component.output_types(replies=list[ChatMessage])
    def run(
        self, messages: list[ChatMessage], streaming_callback: object = None, generation_kwargs: dict | None = None
    ) -> dict:
        self.sent.extend(m.text or "" for m in messages)
        return {"replies": [ChatMessage.from_assistant(self.reply)]}


def garble_vectors(store: Path) -> None:
    """Random bytes over the dense vectors of the published store version: a damaged store."""
    from assist import store as versions

    name = (store / versions.CURRENT_FILE).read_text().strip()
    folder = store / versions.VERSIONS_DIR / name
    path = next(folder.glob("segments/*/vector_storage-text-dense/vectors/chunk_0.mmap"))
    with open(path, "r+b") as f:
        f.write(os.urandom(64 * 384 * 4))


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """llama.cpp's own OpenAI-compatible server with the packaged SmolLM2 GGUF on loopback: the stand-in for vLLM."""
    from assist.backends import default_gguf

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", default_gguf(), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--model_alias", "smollm2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                pytest.fail("llama.cpp server exited at start-up")
            time.sleep(0.5)
        else:
            pytest.fail("llama.cpp server did not come up in 120 s")
        yield url
    finally:
        stop(proc, timeout=30)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def store_dir(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """A data folder with the corpus ingested (embedded Qdrant Edge shard, e5 embeddings)."""
    from ingest.pipeline import Ingestor

    data = tmp_path_factory.mktemp("data")
    ingestor = Ingestor(make_settings(data))
    report = ingestor.ingest([corpus])
    ingestor.close()
    assert not report.failed, report.failed
    return data


@pytest.fixture
def assistant_factory(store_dir: Path) -> Iterator:
    """Builds Assistants on the shared store; closes them so the shard lock is released."""
    from assist.pipeline import Assistant

    made: list[Assistant] = []

    def make(**overrides: object) -> Assistant:
        a = Assistant(make_settings(store_dir, **overrides))
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()
