"""RAGAS's own no-LLM metrics on hand-made passages, with the values worked out by hand in the comments."""

import pytest

from qa.ragas_nollm import NoLlmRagas

FALL = "Ring sjuksköterskan på 08-123 40 20 inom 15 minuter om brukaren har fallit."
LARM = "Larmet ska kvitteras i appen inom två minuter och testas en gång i månaden."
NYCKEL = "Nycklar förvaras i det låsta nyckelskåpet och kvitteras ut vid passets början."
OTHER = "Biblioteket har öppet klockan tio till tjugo på vardagar och stänger tidigt före helgdagar."


@pytest.fixture(scope="module")
def ragas() -> NoLlmRagas:
    return NoLlmRagas()


def test_context_precision_and_recall_against_the_reference_passages(ragas):
    # retrieved: FALL (a reference passage), OTHER (no match), LARM (a reference passage)
    # precision: verdicts [1, 0, 1] -> average precision (1/1 + 2/3) / 2 = 0.8333
    # recall: reference passages FALL, LARM, NYCKEL; FALL and LARM retrieved -> 2/3
    got = ragas.score(retrieved=[FALL, OTHER, LARM], reference_passages=[FALL, LARM, NYCKEL], answer=None,
                      reference_answer=FALL)
    assert got["ragas_context_precision"] == pytest.approx(0.8333, abs=1e-4)
    assert got["ragas_context_recall"] == pytest.approx(0.6667, abs=1e-4)
    assert got["ragas_string_similarity"] is None  # no answer to compare


def test_the_reference_passage_ranked_last_lowers_precision_only(ragas):
    # verdicts [0, 0, 1]: precision (1/3) / 1 = 0.3333; the one reference passage is retrieved: recall 1
    got = ragas.score(retrieved=[OTHER, NYCKEL, FALL], reference_passages=[FALL], answer=None,
                      reference_answer=FALL)
    assert got["ragas_context_precision"] == pytest.approx(0.3333, abs=1e-4)
    assert got["ragas_context_recall"] == 1.0


def test_string_similarity_of_the_answer_to_the_reference_answer(ragas):
    same = ragas.score(retrieved=[FALL], reference_passages=[FALL], answer=FALL, reference_answer=FALL)
    assert same["ragas_string_similarity"] == 1.0
    other = ragas.score(retrieved=[FALL], reference_passages=[FALL], answer=OTHER, reference_answer=FALL)
    assert 0.0 <= other["ragas_string_similarity"] < 0.5


def test_nothing_to_compare_gives_no_value(ragas):
    # a row whose reference sources are not in the store: no reference passages, no context figures
    got = ragas.score(retrieved=[FALL], reference_passages=[], answer=None, reference_answer=FALL)
    assert got == {"ragas_context_precision": None, "ragas_context_recall": None, "ragas_string_similarity": None}
    got = ragas.score(retrieved=[" "], reference_passages=[FALL], answer=None, reference_answer=FALL)
    assert got["ragas_context_precision"] is None
