"""Fixtures for the terminal client: a scripted backend, a history with a fixed clock, a small real store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from assist.errors import BackendUnavailableError
from assist.schemas import Answer, Citation
from assist.settings import Settings
from tui.backends import TextCallback, Turn
from tui.history import HistoryStore

DATA = Path(__file__).parent / "data"

LOAN_CARD = Answer(
    answer=(
        "A child gets a library card of their own when **a guardian signs** the application at the library [1].\n\n"
        "- The guardian shows identification [2].\n- The child needs no identification [2]."
    ),
    citations=[
        Citation(
            n=1,
            doc_id="lanekort-barn",
            title="Lånekort för barn",
            source="library/lanekort-barn.md",
            page=None,
            section="Lånekort för barn > Vem får lånekort",
            collection="library",
            quote="Barn under 18 år får ett eget lånekort när en vårdnadshavare har skrivit under ansökan på plats i "
            "biblioteket.",
        ),
        Citation(
            n=2,
            doc_id="lanekort-barn-pdf",
            title="Lånekort, blankett",
            source="library/lanekort.pdf",
            page=2,
            section="Vad barnet behöver ta med",
            collection="library",
            quote="Vårdnadshavaren visar legitimation. Barnet behöver ingen egen legitimation.",
        ),
    ],
    language="en",
    generator="fake",
)

ROOM = Answer(
    answer="Book a study room at the information desk or in the library app, at most two weeks ahead [1].",
    citations=[
        Citation(
            n=1,
            doc_id="rumsbokning",
            title="Booking a study room",
            source="library/rumsbokning.md",
            section="Booking a study room > How to book",
            collection="library",
            quote="Rooms are booked at the information desk or in the library app, at most two weeks ahead.",
        )
    ],
    language="en",
    generator="fake",
)

#: The routines do not answer a laptop loan; the loans routine is the closest, its table row quoted with headers.
CLOSEST = Answer(
    answer="Books and audiobooks are lent for 28 days [1].\n\n- A loan can be renewed three times [1].",
    status="closest",
    uncovered=["laptop"],
    citations=[
        Citation(
            n=1,
            doc_id="bibliotek-lan",
            title="Lån och omlån",
            source="library/bibliotek-lan.md",
            section="Lån och omlån > Lånetider",
            collection="library",
            quote="Böcker och ljudböcker | Lånetid: 28 dagar | Omlån: Upp till 3 gånger",
        )
    ],
    language="en",
    generator="fake",
)

REFUSED = Answer(answer="The routines do not cover this question.", refused=True, language="en", generator="fake")


class FakeBackend:
    """Answers from a script, streaming each answer in two pieces; records what it was asked."""

    description = "fake store"
    picks_role = True
    supports_collections = True

    def __init__(self, answers: dict[str, Answer] | None = None, *, fail: Exception | None = None) -> None:
        self.answers = answers or {"card": LOAN_CARD, "room": ROOM, "laptop": CLOSEST}
        self.fail = fail
        self.calls: list[dict[str, Any]] = []
        self.warmed = threading.Event()
        self.closed = False

    def warm_up(self) -> None:
        self.warmed.set()

    def ask(
        self,
        question: str,
        role: str,
        language: str | None,
        history: list[Turn],
        *,
        collections: list[str] | None = None,
        on_text: TextCallback | None = None,
    ) -> Answer:
        self.calls.append(
            {"question": question, "role": role, "language": language, "history": history, "collections": collections}
        )
        if self.fail is not None:
            raise self.fail
        answer = next((a for key, a in self.answers.items() if key in question.lower()), REFUSED)
        if on_text is not None:
            half = len(answer.answer) // 2
            on_text(answer.answer[:half])
            on_text(answer.answer[half:])
        return answer.model_copy(deep=True)

    def close(self) -> None:
        self.closed = True


class Clock:
    """A clock that moves one minute per reading, so saved times are fixed and ordered."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def anyio_backend() -> str:
    """Textual runs on asyncio."""
    return "asyncio"


@pytest.fixture
def history(tmp_path: Path) -> Iterator[HistoryStore]:
    store = HistoryStore.in_data_dir(tmp_path, clock=Clock())
    yield store
    store.close()


@pytest.fixture
def fake_backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def down_backend() -> FakeBackend:
    return FakeBackend(
        fail=BackendUnavailableError("Cannot reach the server at http://127.0.0.1:9: is `assist serve` running?")
    )


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small real store built by the real ingest pipeline from tests/tui/data."""
    from ingest.pipeline import Ingestor  # noqa: PLC0415

    tmp = tmp_path_factory.mktemp("tui-store")
    settings = Settings(data_dir=tmp, qdrant={"path": tmp / "q"})
    ingestor = Ingestor(settings)
    report = ingestor.ingest([DATA])
    ingestor.close()
    assert not report.failed, report.failed
    return settings
