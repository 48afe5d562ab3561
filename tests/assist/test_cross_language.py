"""Answers across languages on the project's own routines (knowledge/): the fall question in staff jargon, and a
Swedish question whose routine is written in English, neither with a false "no routine mentions" line; and the
learned answerability model's reading of question and sentence vectors."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assist.answerability import SENTENCE_FEATURES, sentence_features
from assist.errors import ConfigError
from assist.grounding import FEATURES, Calibration, load_calibration
from assist.pipeline import Assistant
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
#: The Markdown routines of home care and general (the PDFs and DOCX files are not needed here and ingest slower).
COLLECTIONS = ("home_care", "general")


@pytest.fixture(scope="module")
def knowledge_assistant(tmp_path_factory: pytest.TempPathFactory):
    from ingest.pipeline import Ingestor

    root = tmp_path_factory.mktemp("knowledge")
    corpus = root / "knowledge"
    for collection in COLLECTIONS:
        (corpus / collection).mkdir(parents=True)
        for path in (ROOT / "knowledge" / collection).iterdir():
            if path.suffix in (".md", ".toml"):
                shutil.copy(path, corpus / collection / path.name)
    data = root / "data"
    ingestor = Ingestor(make_settings(data))
    report = ingestor.ingest([corpus])
    ingestor.close()
    assert not report.failed, report.failed
    assistant = Assistant(make_settings(data, knowledge_dir=corpus))
    yield assistant
    assistant.close()


def _no_false_gap(answer) -> None:
    assert answer.uncovered == [], answer.uncovered
    assert "mentions" not in answer.answer and "nämner" not in answer.answer


def test_the_fall_question_with_staff_jargon_is_answered_from_the_fall_routines(knowledge_assistant):
    answer = knowledge_assistant.ask("brukaren har ramlat, när ringer jag ssk?", role="home-care")
    assert answer.status == "answered", answer.answer
    assert answer.citations[0].doc_id in {"hemtjanst-fall", "hemtjanst-fall-natt"}
    assert "08-123 40 20" in answer.answer  # the day nurse, whichever variant comes first
    _no_false_gap(answer)


def test_a_swedish_question_finds_the_english_routine_and_claims_no_missing_word(knowledge_assistant):
    # "lyftsele" is in no routine; the English routine says "sling". Before, the answer said "Ingen rutin nämner:
    # lyftsele" although the routine it showed says it in English.
    answer = knowledge_assistant.ask("får man använda en brukares lyftsele till en annan brukare?", role="home-care")
    assert answer.citations[0].doc_id == "home-care-lifting-aids-en"
    _no_false_gap(answer)


def test_sentence_features_read_the_nearest_sentence_by_meaning():
    rng = np.random.default_rng(0)
    q = rng.normal(size=384)
    near = q + 0.1 * rng.normal(size=384)
    units = np.vstack([rng.normal(size=384), near, rng.normal(size=384)])
    named, vector = sentence_features(q, units)
    assert named["top_units"] == 3.0
    assert named["top_sentence_cosine"] > 0.9 > named["top_second_cosine"]
    assert named["top_cosine_spread"] > 0.5
    qn, nn = q / np.linalg.norm(q), near / np.linalg.norm(near)
    assert np.allclose(vector, np.hstack([qn * nn, np.abs(qn - nn)]))
    empty, zeros = sentence_features(q, units[:0])
    assert empty["top_units"] == 0.0
    assert not zeros.any()


def test_a_calibration_reading_the_sentence_features_makes_the_gate_compute_them():
    cal = Calibration(features=("top_sentence_cosine",), mean=(0.8,), scale=(0.1,), coef=(1.0,), intercept=0.0,
                      threshold=0.5)
    assert cal.reads_sentences
    assert not load_calibration().reads_sentences  # the shipped calibration reads the grounding features only
    assert set(SENTENCE_FEATURES) <= set(FEATURES)


def test_a_calibration_with_a_vector_part_reads_the_interaction_vector():
    rng = np.random.default_rng(2)
    cal = Calibration(features=("best_cosine",), mean=(0.8,), scale=(0.1,), coef=(1.0,), intercept=0.0, threshold=0.5,
                      vector_mean=(0.0,) * 768, vector_scale=(1.0,) * 768, vector_coef=tuple(rng.normal(size=768)))
    assert cal.reads_sentences
    a, b = rng.normal(size=768), rng.normal(size=768)
    assert cal.probability({"best_cosine": 0.8}, a) != cal.probability({"best_cosine": 0.8}, b)
    assert cal.probability({"best_cosine": 0.8}) == 0.5  # no vector given: the named features alone
    assert cal.probability({"best_cosine": 0.8}, a[:10]) == 0.5  # a vector of another model is not read
    assert "vector_coef" in cal.to_dict()


def test_a_calibration_whose_vector_parts_differ_in_length_says_how_to_fix_it(tmp_path):
    data = json.loads((ROOT / "assist" / "calibration.json").read_text(encoding="utf-8"))
    data |= {"vector_mean": [0.0] * 768, "vector_scale": [1.0] * 768, "vector_coef": [0.1] * 5}
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="vector_coef"):
        load_calibration(path)
