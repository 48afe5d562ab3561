"""The LLM paths with real parts: llama.cpp in-process, and its OpenAI-compatible server standing in for vLLM."""


import pytest
from haystack import Document
from haystack.components.builders import ChatPromptBuilder

from assist.backends import make_chat_generator
from assist.components.answer_generator import GuardedAnswerGenerator, prompt_template
from assist.settings import Settings

DOCS = [
    Document(
        content="Ring sjuksköterskan på 08-123 40 20 inom 15 minuter när en brukare har fallit.",
        meta={"title": "Fall hos brukare", "doc_id": "fall", "collection": "home_care"},
    )
]
QUESTION = "Vem ringer jag när brukaren har ramlat?"


def _messages() -> list:
    builder = ChatPromptBuilder(template=prompt_template(), required_variables="*")
    return builder.run(documents=DOCS, question=QUESTION, language_name="Swedish", history=[])["prompt"]


def test_llamacpp_in_process_generates_text():
    settings = Settings(generator={"backend": "llamacpp", "max_tokens": 48})
    chat, name = make_chat_generator(settings)
    gen = GuardedAnswerGenerator(chat_generator=chat, name=name)
    gen.warm_up()
    out = gen.run(messages=_messages(), question=QUESTION, documents=DOCS)

    assert out["generator"].startswith("llamacpp:")
    assert not out["fallback"], out["error"]
    assert out["replies"][0].strip()


@pytest.mark.integration
def test_openai_compatible_endpoint_against_llama_cpp_server(llama_server):
    settings = Settings(
        generator={
            "backend": "openai",
            "api_base_url": llama_server,
            "model": "smollm2",
            "max_tokens": 48,
            "timeout_s": 120,
        }
    )
    chat, name = make_chat_generator(settings)
    # The generation call and its stream are what this test checks; the answerability call before it has its own
    # test (tests/assist/test_trust.py), and SmolLM2-135M's verdict on it is no better than chance.
    gen = GuardedAnswerGenerator(chat_generator=chat, name=name, check_answerable=False)
    streamed: list[str] = []
    out = gen.run(
        messages=_messages(),
        question=QUESTION,
        documents=DOCS,
        streaming_callback=lambda chunk: streamed.append(chunk.content),
    )

    assert not out["fallback"], out["error"]
    assert out["generator"] == "openai:smollm2"
    assert out["replies"][0].strip()
    assert "".join(streamed).strip() == out["replies"][0].strip()


@pytest.mark.integration
def test_full_pipeline_with_server_generator_keeps_only_valid_citations(assistant_factory, llama_server):
    assistant = assistant_factory(
        generator={
            "backend": "openai",
            "api_base_url": llama_server,
            "model": "smollm2",
            "max_tokens": 64,
            "timeout_s": 120,
        }
    )
    answer = assistant.ask("Vem ringer jag när en brukare har ramlat?", role="home-care")

    assert not answer.fallback
    assert answer.citations, "an answer is never shown without a source"
    for c in answer.citations:
        assert f"[{c.n}]" in answer.answer
    if answer.generator == "extractive":
        assert any("cited no source" in n for n in answer.notices)
