"""Language detection: the languages staff ask in are told apart, and short Swedish questions stay Swedish."""

import json
from pathlib import Path

import pytest

from assist.languages import ASK_CONTACT, LANGUAGE_NAMES, NOT_COVERED, detect_language

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Die Klientin ist gestürzt, wen rufe ich an?", "de"),
        ("Клиентка упала ночью, кому звонить?", "ru"),
        ("ลูกค้าล้มตอนกลางคืน ต้องโทรหาใคร", "th"),
        ("Le client est tombé, qui dois-je appeler ?", "fr"),
        ("kan man förlänga?", "sv"),
        ("och efter kräkningar då?", "sv"),
        ("lost my work phone", "en"),
    ],
)
def test_question_language(question, language):
    assert detect_language(question) == language


def test_every_eval_question_is_detected_as_its_labelled_language():
    rows = [json.loads(line) for name in ("dev", "test") for line in (ROOT / "eval_sets" / f"{name}.jsonl").open()]
    wrong = [(r["id"], r["language"], detect_language(r["question"])) for r in rows
             if detect_language(r["question"]) != r["language"]]
    assert not wrong


def test_every_language_has_its_refusal_phrases():
    assert set(LANGUAGE_NAMES) <= set(NOT_COVERED)
    assert set(LANGUAGE_NAMES) <= set(ASK_CONTACT)


def test_warm_up_loads_the_detector_for_every_script_the_served_languages_use(assistant_factory, monkeypatch):
    """Each script's first question loaded its models (2-3 s for Latin); warm-up detects one sample of each."""
    import unicodedata

    from assist import languages

    seen: list[str] = []
    detector = languages._detector()  # noqa: SLF001 - the one detector the product uses

    class Spy:
        def detect_language_of(self, text: str):  # noqa: ANN201
            seen.append(text)
            return detector.detect_language_of(text)

    monkeypatch.setattr(languages, "_detector", Spy)
    assistant_factory().warm_up()
    scripts = {unicodedata.name(ch).split()[0] for text in seen for ch in text if ch.isalpha()}
    assert {"LATIN", "ARABIC", "CYRILLIC"} <= scripts
