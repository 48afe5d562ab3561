"""Each no-LLM metric on small cases whose expected values are worked out by hand in the comments."""

import pytest

from assist.evaluation import (
    citation_precision,
    hit_at_k,
    language_match,
    mean,
    ranked_doc_ids,
    recall_at_k,
    reciprocal_rank,
    refusal_correct,
)
from assist.languages import NO_TRANSLATION_NOTICE
from qa.metrics import (
    answer_lines,
    first_line_has_key_fact,
    key_facts,
    key_facts_quoted,
    pairing,
    score_row,
    summarize,
    summarize_group,
)
from tests.qa.conftest import SWEDISH, answer, docs, row


def test_ranked_doc_ids_keep_the_first_chunk_of_each_document():
    # chunks a, b, a, c -> documents a (rank 1), b (rank 2), c (rank 3); the second chunk of a does not count again
    assert ranked_doc_ids(["a", "b", "a", "c"]) == ["a", "b", "c"]


def test_reciprocal_rank_is_one_over_the_first_relevant_rank():
    # x, y, fall: the first relevant document is third -> 1/3
    assert reciprocal_rank(["x", "y", "fall"], {"fall"}) == pytest.approx(1 / 3)
    # nothing relevant retrieved -> 0
    assert reciprocal_rank(["x", "y"], {"fall"}) == 0.0


def test_hit_at_k_counts_only_the_first_k():
    # relevant doc at rank 3: inside the first 3 -> 1, outside the first 2 -> 0
    assert hit_at_k(["x", "y", "fall"], {"fall"}, 3) == 1.0
    assert hit_at_k(["x", "y", "fall"], {"fall"}, 2) == 0.0


def test_recall_at_k_is_the_share_of_reference_documents_found():
    # references {a, b, c}; top 2 = [a, x] holds a only -> 1/3; top 4 = [a, x, c, b] holds all three -> 3/3
    assert recall_at_k(["a", "x", "c", "b"], {"a", "b", "c"}, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["a", "x", "c", "b"], {"a", "b", "c"}, 4) == 1.0
    # no reference documents (a refusal row) -> 0 by convention
    assert recall_at_k(["a"], set(), 5) == 0.0


def test_citation_precision_is_the_share_of_citations_on_reference_documents():
    # cited a, x, a, y against {a}: two of four citations point at a reference document -> 2/4 = 0.5
    assert citation_precision(["a", "x", "a", "y"], {"a"}) == 0.5
    # nothing cited -> undefined, None (left out of means)
    assert citation_precision([], {"a"}) is None


def test_refusal_correct_rewards_refusing_exactly_the_must_refuse_rows():
    # must refuse (answerable False) and refused -> 1; must refuse but answered -> 0
    assert refusal_correct(refused=True, answerable=False) == 1.0
    assert refusal_correct(refused=False, answerable=False) == 0.0
    # answerable and refused is a false refusal -> 0; answerable and answered -> 1
    assert refusal_correct(refused=True, answerable=True) == 0.0
    assert refusal_correct(refused=False, answerable=True) == 1.0


def test_language_match_and_mean():
    assert language_match("sv", "sv") == 1.0
    assert language_match("sv", "so") == 0.0
    # mean skips None: (1 + 0 + 0.5) / 3 = 0.5
    assert mean([1.0, None, 0.0, 0.5]) == 0.5
    assert mean([None]) is None


def test_score_row_on_a_hand_built_answer():
    # retrieved chunks: nycklar, fall, nycklar, kontakter -> documents [nycklar, fall, kontakter]
    # reference {fall}: first relevant at rank 2 -> rr 1/2, hit@5 1, recall@5 1/1
    # cited [fall, nycklar] -> citation precision 1/2; Swedish answer to a Swedish row -> language match 1
    a = answer(f"{SWEDISH} [1] [2]", ["fall", "nycklar"])
    got = score_row(row("r1"), a, ["nycklar", "fall", "nycklar", "kontakter"])
    assert got["rr"] == 0.5
    assert got["hit@5"] == 1.0
    assert got["recall@5"] == 1.0
    assert got["citation_precision"] == 0.5
    assert got["refusal_correct"] == 1.0
    assert got["detected_language"] == "sv"
    assert got["language_match"] == 1.0
    assert "support" not in got  # the answer's own support is 1.0 for every extractive answer: not a figure


def test_a_must_refuse_row_has_no_retrieval_scores():
    a = answer("Rutinerna svarar inte på den frågan.", [], refused=True)
    got = score_row(row("r2", answerable=False), a, ["kontakter"])
    assert got["hit@5"] is None and got["rr"] is None and got["citation_precision"] is None
    assert got["refusal_correct"] == 1.0
    assert got["key_fact_first_line"] is None and got["answer_lines"] is None


def test_untranslated_extractive_answers_are_counted_apart():
    # A Somali question answered with Swedish quotes: raw language match 0, flagged untranslated by the notice.
    a = answer(f"{SWEDISH} [1]", ["fall"], language="sv", notices=[NO_TRANSLATION_NOTICE["en"]])
    got = score_row(row("r3", language="so"), a, ["fall"])
    assert got["language_match"] == 0.0
    assert got["untranslated"] is True


def test_summary_of_four_hand_scored_rows():
    recs = [
        # answerable, hit, rr 1, recall 1, precision 1, Swedish ok
        {"answerable": True, "hit@5": 1.0, "rr": 1.0, "recall@5": 1.0, "citation_precision": 1.0,
         "refusal_correct": 1.0, "language_match": 1.0, "untranslated": False},
        # answerable, found at rank 4: rr 0.25; untranslated answer to a Somali row (language 0)
        {"answerable": True, "hit@5": 1.0, "rr": 0.25, "recall@5": 0.5, "citation_precision": 0.0,
         "refusal_correct": 1.0, "language_match": 0.0, "untranslated": True},
        # must refuse, but answered: refusal 0
        {"answerable": False, "hit@5": None, "rr": None, "recall@5": None, "citation_precision": None,
         "refusal_correct": 0.0, "language_match": 1.0, "untranslated": False},
        # a question that raised: counted as an error, out of every mean
        {"answerable": True, "error": "boom"},
    ]
    s = summarize_group(recs)
    assert (s["rows"], s["errors"], s["answerable"], s["must_refuse"]) == (4, 1, 2, 1)
    assert s["hit@5"] == 1.0  # (1 + 1) / 2
    assert s["mrr"] == 0.625  # (1 + 0.25) / 2
    assert s["recall@5"] == 0.75  # (1 + 0.5) / 2
    assert s["citation_precision"] == 0.5  # (1 + 0) / 2
    assert s["refusal_accuracy"] == 0.0  # the one must-refuse row was answered
    assert s["false_refusal_rate"] == 0.0  # neither answerable row was refused
    assert s["language_match"] == pytest.approx(0.6667)  # (1 + 0 + 1) / 3
    assert s["language_match_translatable"] == 1.0  # the untranslated row left out: (1 + 1) / 2
    assert "support" not in s


def test_judge_failure_share_counts_failed_judgements():
    # two judged rows, four metrics each = 8 judgements; 3 failed -> 3/8 = 0.375
    base = {"answerable": True, "hit@5": 1.0, "rr": 1.0, "recall@5": 1.0, "citation_precision": 1.0,
            "refusal_correct": 1.0, "language_match": 1.0, "untranslated": False}
    recs = [
        {**base, "judge": {"faithfulness": 0.5, "answer_relevancy": None, "context_precision": 1.0,
                           "context_recall": None}, "judge_errors": {"answer_relevancy": "x", "context_recall": "x"}},
        {**base, "judge": {"faithfulness": None, "answer_relevancy": 0.8, "context_precision": 0.0,
                           "context_recall": 1.0}, "judge_errors": {"faithfulness": "x"}},
    ]
    s = summarize_group(recs)
    assert s["judge_failure_share"] == 0.375
    assert s["faithfulness"] == 0.5  # only one value
    assert s["context_precision"] == 0.5  # (1 + 0) / 2


def test_docs_helper_builds_retrieved_documents():
    assert [d.meta["doc_id"] for d in docs("a", "b")] == ["a", "b"]


# ---------------------------------------------------------------- answer states, key facts, language split


def test_key_facts_are_phone_numbers_times_and_numbers_normalised():
    # a phone number whole (not its digit groups), an emergency number and a count
    assert key_facts("Ring 08-123 40 20 inom 15 minuter, vid fara 112.") == {"tel:081234020", "15", "112"}
    # clock times with a dot or a colon are one fact each; a range gives both ends
    assert key_facts("dagtid (07.00–21.30), natt från 21:30") == {"7:00", "21:30"}
    # thousands written with a space, decimal commas, trailing zeros and leading zeros
    assert key_facts("58 750 kronor, 1,5–2 liter, 38,0 °C, kod 08") == {"58750", "1.5", "2", "38", "8"}
    # Arabic-Indic digits read as the same number as Western ones
    assert key_facts("٤٨ ساعة") == key_facts("48 timmar") == {"48"}
    assert key_facts("Ingen siffra här.") == set()


def test_key_facts_quoted_is_the_share_of_reference_facts_in_an_answered_answer():
    reference = "Ring sjuksköterskan på 08-123 40 20 inom 15 minuter."
    # both facts quoted -> 1; the phone number alone -> 1/2
    assert key_facts_quoted(reference, "Ring 08-123 40 20 inom 15 minuter. [1]", "answered") == 1.0
    assert key_facts_quoted(reference, "Ring sjuksköterskan på 08-123 40 20. [1]", "answered") == 0.5
    # the citation marker [15] is not the fact 15
    assert key_facts_quoted(reference, "Ring sjuksköterskan. [15]", "answered") == 0.0
    # a closest answer quotes the nearest routine, not the answer: it counts as quoting nothing
    assert key_facts_quoted(reference, "Närmast: 08-123 40 20 inom 15 minuter. [1]", "closest") == 0.0
    # a reference without any number has no key facts: not measured
    assert key_facts_quoted("Nej, det får du inte.", "Nej. [1]", "answered") is None


def test_score_row_records_the_state_and_counts_closest_as_not_answered():
    must_refuse = row("r4", answerable=False)
    a = answer("Ingen rutin nämner: semester. [1]", ["nycklar"], status="closest")
    got = score_row(must_refuse, a, ["nycklar"])
    assert got["status"] == "closest"
    assert got["refusal_correct"] == 1.0  # closest is right for a must-refuse row
    answerable = score_row(row("r5"), a, ["nycklar"])
    assert answerable["refusal_correct"] == 0.0  # and a false refusal for an answerable one
    assert answerable["citation_precision"] is None and answerable["key_fact_first_line"] is None
    assert answerable["key_facts"] == 0.0  # the reference's "15 minuter" is not quoted by a closest answer


def _rec(answerable: bool, status: str | None, **extra):
    base = {"answerable": answerable, "hit@5": 1.0 if answerable else None, "rr": None, "recall@5": None,
            "citation_precision": None, "language_match": 1.0, "untranslated": False}
    if status is not None:
        base["status"] = status
    return {**base, **extra}


def test_summary_counts_the_three_states_and_derives_refusal_figures_from_them():
    recs = [
        _rec(False, "closest"),  # must refuse: right
        _rec(False, "refused"),  # must refuse: right
        _rec(False, "answered"),  # must refuse: wrong
        _rec(True, "answered"),  # answerable: right
        _rec(True, "closest"),  # answerable: false refusal
        # stored before the three states: only `refused`
        _rec(True, None, refused=False),
        _rec(False, None, refused=True),
    ]
    s = summarize_group(recs)
    # answered: rows 3, 4, 6; closest: 1, 5; refused: 2, 7
    assert (s["answered_rows"], s["closest_rows"], s["refused_rows"]) == (3, 2, 2)
    assert (s["answered_share"], s["closest_share"], s["refused_share"]) == (0.4286, 0.2857, 0.2857)
    assert s["refusal_accuracy"] == 0.75  # 3 of the 4 must-refuse rows are closest or refused
    assert s["false_refusal_rate"] == pytest.approx(0.3333)  # 1 of 3 answerable rows is not answered


def test_summary_splits_hit_at_5_by_question_and_source_language():
    recs = [
        _rec(True, "answered", cross_language=False),
        _rec(True, "answered", cross_language=False, **{"hit@5": 0.0}),
        _rec(True, "answered", cross_language=True),
        _rec(True, "answered", cross_language=None, **{"hit@5": 0.0}),  # source language unknown: in neither
    ]
    s = summarize_group(recs)
    assert s["hit@5"] == 0.5  # (1 + 0 + 1 + 0) / 4
    assert s["hit@5_same_language"] == 0.5  # (1 + 0) / 2
    assert s["hit@5_cross_language"] == 1.0
    assert s["cross_language_rows"] == 1


def test_summary_key_facts_and_ragas_means_over_answerable_rows():
    recs = [
        _rec(True, "answered", key_facts=1.0, ragas={"ragas_context_precision": 1.0, "ragas_context_recall": 0.5}),
        _rec(True, "answered", key_facts=0.5, ragas={"ragas_context_precision": 0.0, "ragas_context_recall": 0.5}),
        _rec(True, "answered", key_facts=None),  # no number in the reference: left out
        _rec(False, "refused", key_facts=None),
    ]
    s = summarize_group(recs)
    assert s["key_facts"] == 0.75 and s["key_facts_rows"] == 2
    assert s["ragas_context_precision"] == 0.5 and s["ragas_context_recall"] == 0.5
    assert s["ragas_string_similarity"] is None


def test_summarize_adds_a_group_per_set_and_language_group():
    recs = [
        {**_rec(True, "answered"), "set": "dev", "language": "sv"},
        {**_rec(False, "answered"), "set": "dev", "language": "so"},
        {**_rec(False, "closest"), "set": "test", "language": "ar"},
        {**_rec(True, "answered"), "set": "test", "language": "en"},
    ]
    s = summarize(recs)
    assert set(s) == {"all", "dev", "test", "all/sv", "all/en", "all/other", "dev/sv", "dev/other", "test/en",
                      "test/other"}  # no record says its language pairing: no pairing groups
    # the two other-language must-refuse rows: dev's was answered (wrong), test's is closest (right)
    assert s["dev/other"]["refusal_accuracy"] == 0.0
    assert s["test/other"]["refusal_accuracy"] == 1.0
    assert s["all/other"]["refusal_accuracy"] == 0.5 and s["all/other"]["closest_share"] == 0.5


# ---------------------------------------------------------------- the answer first, its length, language pairing


def test_key_fact_first_line_asks_whether_the_first_line_holds_a_reference_number():
    reference = "Ring sjuksköterskan dagtid på 08-123 40 20 inom 15 minuter."
    # the day nurse's number on line 1 -> 1; only on line 3 (the night routine's numbers first) -> 0
    first = "- Ring sjuksköterskan på 08-123 40 20. [1]\n- Ring 112 vid fara. [1]"
    late = "- Ring nattsjuksköterskan på 08-123 40 99. [1]\n- Ring 112. [1]\n- Dagtid: 08-123 40 20. [2]"
    assert first_line_has_key_fact(reference, first, "answered") == 1.0
    assert first_line_has_key_fact(reference, late, "answered") == 0.0
    # the citation marker [15] on line 1 is not the fact 15
    assert first_line_has_key_fact(reference, "- Ring sjuksköterskan. [15]\n- 15 minuter. [1]", "answered") == 0.0
    # not answered, or a reference without a number: not measured
    assert first_line_has_key_fact(reference, first, "closest") is None
    assert first_line_has_key_fact("Nej, det får du inte.", "- Nej. [1]", "answered") is None


def test_answer_lines_counts_the_lines_of_an_answered_answer():
    assert answer_lines("- a [1]\n\n- b [1]\n- c [2]", "answered") == 3
    assert answer_lines("Rutinerna svarar inte direkt på frågan.\n- x [1]", "closest") is None


def test_score_row_marks_fact_questions_and_scores_the_first_line():
    # the conftest row's reference, "Ring sjuksköterskan inom 15 minuter.", states a number: a fact question
    a = answer("- Ring sjuksköterskan inom 15 minuter. [1]\n- Skriv en avvikelse. [1]", ["fall"])
    got = score_row(row("r6"), a, ["fall"])
    assert got["fact_question"] is True
    assert got["key_fact_first_line"] == 1.0
    assert got["answer_lines"] == 2


def test_summary_of_the_first_line_and_the_median_lines_of_fact_questions():
    recs = [
        _rec(True, "answered", key_fact_first_line=1.0, answer_lines=2, fact_question=True),
        _rec(True, "answered", key_fact_first_line=0.0, answer_lines=5, fact_question=True),
        _rec(True, "answered", key_fact_first_line=1.0, answer_lines=3, fact_question=True),
        _rec(True, "answered", key_fact_first_line=None, answer_lines=7, fact_question=False),  # no number
        _rec(True, "closest", key_fact_first_line=None, answer_lines=None, fact_question=True),  # not answered
    ]
    s = summarize_group(recs)
    assert s["key_fact_first_line"] == pytest.approx(0.6667)  # 2 of the 3 answered rows with a number
    assert s["key_fact_first_line_rows"] == 3
    assert s["answer_lines_fact_median"] == 3.0  # median of 2, 5, 3; the 7-line answer is no fact question


def test_pairing_reads_the_recorded_pairing_then_the_reference_sources_language():
    assert pairing({"language_pairing": "cross", "cross_language": False}) == "cross"
    assert pairing({"cross_language": False}) == "same"
    assert pairing({"cross_language": True}) == "cross"
    assert pairing({"cross_language": None}) is None


def test_summarize_adds_same_language_and_cross_language_groups():
    recs = [
        {**_rec(True, "answered"), "set": "dev", "language": "sv", "language_pairing": "same"},
        {**_rec(True, "closest"), "set": "dev", "language": "so", "language_pairing": "cross"},
        {**_rec(False, "refused"), "set": "dev", "language": "en", "language_pairing": "cross"},
        {**_rec(False, "answered"), "set": "test", "language": "ar", "language_pairing": None},  # unknown: neither
    ]
    s = summarize(recs)
    assert {"dev/same_language", "dev/cross_language", "all/same_language", "all/cross_language"} <= set(s)
    assert "test/same_language" not in s and "test/cross_language" not in s
    assert s["dev/cross_language"]["rows"] == 2
    assert s["dev/cross_language"]["false_refusal_rate"] == 1.0  # the Somali answerable row was not answered
    assert s["dev/cross_language"]["refusal_accuracy"] == 1.0  # the English must-refuse row was refused
    assert s["dev/same_language"]["false_refusal_rate"] == 0.0
