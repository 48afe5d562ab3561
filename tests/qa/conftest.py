"""Fakes for the QA tests: an assistant that answers from a script, and hand-made runs in a temporary store."""

from collections.abc import Callable
from typing import Any

import pytest
from haystack import Document

from assist.evaluation import EvalRow
from assist.schemas import Answer, Citation
from qa.store import RunStore


def row(id: str, *, answerable: bool = True, sources: list[str] | None = None, language: str = "sv",
        question: str | None = None) -> EvalRow:
    return EvalRow(id=id, question=question or f"fråga {id}", language=language, role="home-care",
                   reference_answer="Ring sjuksköterskan inom 15 minuter.",
                   reference_sources=sources if sources is not None else (["fall"] if answerable else []),
                   answerable=answerable)


def answer(text: str, cited: list[str], *, refused: bool = False, language: str = "sv",
           notices: list[str] | None = None, status: str | None = None) -> Answer:
    states = {"status": status} if status else {}
    return Answer(answer=text, refused=refused, language=language, notices=notices or [],
                  generator="extractive", **states,
                  citations=[Citation(n=i, doc_id=d, title=d, source=f"{d}.md", quote="...")
                             for i, d in enumerate(cited, 1)])


def docs(*doc_ids: str, language: str | None = None) -> list[Document]:
    lang = {"language": language} if language else {}
    return [Document(content=f"passage of {d}", meta={"doc_id": d, "collection": "home_care", **lang})
            for d in doc_ids]


class ScriptedAssistant:
    """Answers each question from a table; `fail_after` simulates a kill (KeyboardInterrupt) after N answers."""

    def __init__(self, script: dict[str, Callable[[], tuple[Answer, list[Document]]]], fail_after: int | None = None):
        self.script = script
        self.fail_after = fail_after
        self.asked: list[str] = []
        self.histories: list[Any] = []

    def answer_with_sources(self, question: str, role: str, *, language: str | None = None,
                            history: list[dict[str, str]] | None = None) -> tuple[Answer, list[Document]]:
        if self.fail_after is not None and len(self.asked) >= self.fail_after:
            raise KeyboardInterrupt
        self.asked.append(question)
        self.histories.append(history)
        return self.script[question]()

    def close(self) -> None:
        pass


SWEDISH = "Ring sjuksköterskan inom femton minuter efter att brukaren har ramlat."


def good() -> tuple[Answer, list[Document]]:
    return answer(f"{SWEDISH} [1]", ["fall"]), docs("fall", "nycklar")


def bad() -> tuple[Answer, list[Document]]:
    return answer(f"{SWEDISH} [1]", ["nycklar"]), docs("nycklar", "kontakter")


def refusal() -> tuple[Answer, list[Document]]:
    return answer("Rutinerna svarar inte på den frågan.", [], refused=True), docs("kontakter")


def closest() -> tuple[Answer, list[Document]]:
    """The nearest routine, shown as not answering the question (status closest)."""
    return (answer("Ingen rutin nämner: semester. Närmast: [1]", ["nycklar"], status="closest"),
            docs("nycklar", "kontakter"))


@pytest.fixture
def run_store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "eval")
