"""What one question costs in Python (issue 25, item 4): the query vector travels as an array, candidates are read
without the sentence vectors (only the chunks kept fetch theirs), the components after the grounding decision get
chunks without them (nor the title vectors), and an extractive answer builds no LLM prompt."""

from pathlib import Path

import numpy as np

from assist.components.edge_store import EdgeDocumentStore
from assist.components.title_embedder import TITLE_VECTOR
from assist.components.unit_embedder import UNIT_VECTORS
from assist.settings import Settings
from tests.conftest import RecordingChatGenerator

FALL = "Vad gör jag om en brukare har ramlat?"


def _spy(assistant, monkeypatch) -> dict:  # noqa: ANN001
    """Each component's inputs of the next pipeline run, as the components receive them."""
    seen: dict = {}
    for name in ("gate", "expander", "instruction_filter", "generator", "answer_builder"):
        component = assistant.pipeline.get_component(name)
        run = component.run

        def spy(*args, _name=name, _run=run, **kwargs):  # noqa: ANN002, ANN003, ANN202
            seen[_name] = kwargs
            return _run(*args, **kwargs)

        monkeypatch.setattr(component, "run", spy)
    return seen


def test_the_sentence_vectors_reach_the_gate_and_no_component_after_it(assistant_factory, monkeypatch):
    assistant = assistant_factory()
    seen = _spy(assistant, monkeypatch)
    answer, retrieved = assistant.answer_with_sources(FALL, "home-care")
    assert answer.citations[0].doc_id == "fall-dag"
    # The gate compares the question with the kept chunks' stored sentence vectors.
    assert all(UNIT_VECTORS in d.meta for d in seen["gate"]["documents"])
    assert all(UNIT_VECTORS in d.meta and TITLE_VECTOR in d.meta for d in retrieved)
    assert isinstance(seen["gate"]["query_embedding"], np.ndarray)
    # After the decision nobody reads them, nor the title vectors: they are not copied from component to component.
    for name in ("expander", "instruction_filter", "generator", "answer_builder"):
        assert seen[name]["documents"], name
        assert not any(UNIT_VECTORS in d.meta or TITLE_VECTOR in d.meta for d in seen[name]["documents"]), name


def test_candidates_are_read_without_the_sentence_vectors(store_dir: Path):
    store = EdgeDocumentStore(path=store_dir / "qdrant")
    try:
        full = store.filter_documents(filters={"field": "meta.doc_id", "operator": "==", "value": "fall-dag"})
        assert full
        assert all(UNIT_VECTORS in d.meta for d in full)
        vector = full[0].embedding
        light = store.query_by_embedding(vector, top_k=5, without=(UNIT_VECTORS,))
        assert light
        assert not any(UNIT_VECTORS in d.meta for d in light)
        assert all(d.meta.get("doc_id") and d.content for d in light)  # the rest of the payload is there
        assert all(TITLE_VECTOR in d.meta for d in light)  # the title ranking reads it for every candidate
        scores_only = store.query_by_embedding(vector, top_k=1, without=("*",))
        assert scores_only[0].score == light[0].score
        assert not scores_only[0].meta
        # The kept chunks' vectors are read afterwards, by id, and equal what the whole payload holds.
        by_id = store.meta_values([d.id for d in light], UNIT_VECTORS)
        whole = {d.id: d.meta[UNIT_VECTORS] for d in store.filter_documents() if d.id in by_id}
        assert by_id == whole
        assert set(by_id) == {d.id for d in light}
    finally:
        store.close()


def test_an_extractive_answer_builds_no_prompt_and_an_llm_answer_does(assistant_factory):
    assistant = assistant_factory()
    assert "prompt_builder" not in assistant.pipeline.graph.nodes
    generator = assistant.pipeline.get_component("generator")
    answer = assistant.ask(FALL, role="home-care")
    assert answer.generator == "extractive"
    assert generator._prompt_builder is None  # noqa: SLF001 - that nothing was built is what is tested
    recorder = RecordingChatGenerator("Ring sjuksköterskan. [1]")
    generator.chat_generator = recorder
    assistant.ask(FALL, role="home-care", language="en")
    prompt = "\n".join(recorder.sent)
    assert FALL in prompt
    assert "English" in prompt  # the answer language reaches the prompt
    assert "Fall" in prompt  # and the passages


def test_the_query_embedder_gives_an_array():
    from assist.backends import make_text_embedder  # noqa: PLC0415

    embedder = make_text_embedder(Settings())
    out = embedder.run(text=FALL)["embedding"]
    assert isinstance(out, np.ndarray)
    assert out.shape == (384,)
    assert abs(float(np.linalg.norm(out)) - 1.0) < 1e-3
