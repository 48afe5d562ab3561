"""What a question and its conversation may be: emoji pass, binary junk does not, and history is bounded."""

import os

import pytest

from assist.errors import InvalidQuestionError
from assist.pipeline import bounded_turns, cut_text, retrieval_query, validate_question
from tests.conftest import RecordingChatGenerator

LONG = "Brukaren har ramlat i badrummet och klagar på smärta i höften. " * 500  # about 31,000 characters


@pytest.mark.parametrize(
    "question",
    [
        "👨‍👩‍👧 barn sjukt?",  # zero-width joiners (Cf) between the people
        "❤️ tack! hur gör jag?",  # variation selector 16
        "👍🏽 ok, och nästa steg?",  # skin tone modifier
        "🇸🇪 vilka regler gäller?",  # regional indicators
        "\u200fمتى تفتح المكتبة؟",  # right-to-left mark (Cf) in front of Arabic
        "soft\u00adhyphen i ordet?",
    ],
)
def test_emoji_and_format_characters_are_text(question):
    assert validate_question(question, 2000) == " ".join(question.split())


@pytest.mark.parametrize(
    "question",
    [
        "abc\x00def",
        bytes(range(256)).decode("latin-1"),
        os.urandom(400).decode("utf-8", errors="replace"),
        "\x1b[31m\x07\x08\x1b[0m\x01\x02",
    ],
)
def test_binary_junk_is_still_refused(question):
    with pytest.raises(InvalidQuestionError, match="binary"):
        validate_question(question, 2000)


def test_cut_text_keeps_short_text_and_cuts_long_text_at_a_word():
    assert cut_text("  kort   fråga ", 300) == "kort fråga"
    cut = cut_text(LONG, 300)
    assert len(cut) <= 300
    assert cut.endswith("…")
    assert LONG.startswith(cut[:-1])


def test_retrieval_query_holds_the_question_and_a_bounded_recent_context():
    turns = [
        {"role": "user", "content": "Första frågan om nycklar"},
        {"role": "assistant", "content": "Svar " * 1000},
        {"role": "user", "content": LONG},
        {"role": "assistant", "content": "Svar " * 1000},
        {"role": "user", "content": "Var förvaras brukarnas nycklar?"},
    ]
    query = retrieval_query("och om en tappas bort?", turns, max_turns=2, turn_chars=300)
    assert query.endswith("och om en tappas bort?")
    assert "Var förvaras brukarnas nycklar?" in query
    assert "Första frågan" not in query  # only the last two user turns
    assert "Svar" not in query  # never the assistant's turns
    assert len(query) <= 2 * 300 + len("och om en tappas bort?") + 2
    assert retrieval_query("fråga?", turns, max_turns=0) == "fråga?"


def test_bounded_turns_keeps_the_last_turns_scrubbed_and_cut():
    history = [{"role": "user", "content": f"fråga {i}"} for i in range(10)]
    history.append({"role": "user", "content": "Ring mig på 070-123 45 67. " + LONG})
    turns = bounded_turns(history, turns=3, chars=200)
    assert [t["content"][:7] for t in turns[:2]] == ["fråga 8", "fråga 9"]
    assert len(turns) == 3
    assert all(len(t["content"]) <= 200 for t in turns)
    assert "070-123" not in turns[-1]["content"]
    assert "[TELEFON]" in turns[-1]["content"]
    assert bounded_turns(history, turns=0, chars=200) == []


def test_a_huge_history_turn_reaches_neither_the_embedder_nor_the_prompt_whole(assistant_factory, monkeypatch):
    assistant = assistant_factory()
    seen: list[dict] = []
    run = assistant.pipeline.run

    def spy(data, *args, **kwargs):
        seen.append(data)
        return run(data, *args, **kwargs)

    monkeypatch.setattr(assistant.pipeline, "run", spy)
    history = [{"role": "user", "content": LONG}, {"role": "assistant", "content": "Larma sjuksköterskan. " * 1500}]
    answer = assistant.ask("Vem ringer jag?", role="home-care", history=history)

    r = assistant.settings.retrieval
    data = seen[0]
    assert len(data["text_embedder"]["text"]) <= r.query_turns * r.query_turn_chars + len("Vem ringer jag?") + 2
    assert data["sparse_embedder"]["text"] == data["text_embedder"]["text"]
    prompt_turns = data["generator"]["history"]
    assert len(prompt_turns) == 2
    assert all(len(t["content"]) <= r.history_turn_chars for t in prompt_turns)
    # The bounded context still steers retrieval to the fall routine.
    assert answer.citations
    assert answer.citations[0].doc_id == "fall-dag"
    # With an LLM, the prompt it is sent holds the bounded turns, not the whole ones.
    recorder = RecordingChatGenerator("Ring sjuksköterskan. [1]")
    assistant.pipeline.get_component("generator").chat_generator = recorder
    assistant.ask("Vem ringer jag?", role="home-care", history=history)
    prompt = "\n".join(recorder.sent)
    assert "Vem ringer jag?" in prompt
    assert "klagar på smärta i höften" in prompt
    sentence = len("Brukaren har ramlat i badrummet och klagar på smärta i höften. ")
    assert prompt.count("klagar på smärta i höften") <= r.history_turn_chars // sentence + 1


def test_a_long_question_is_searched_and_compared_with_a_normal_questions_work(assistant_factory, monkeypatch):
    """A 1,999-character question once cost ten times a normal one (the whole text embedded, its every key term
    compared with each passage's sentences): the text every costly step works on is now the question's first
    `query_chars` characters, and a normal question's is the question itself.
    """
    assistant = assistant_factory()
    seen: list[dict] = []
    run = assistant.pipeline.run

    def spy(data, *args, **kwargs):
        seen.append(data)
        return run(data, *args, **kwargs)

    monkeypatch.setattr(assistant.pipeline, "run", spy)
    long = ("Brukaren har ramlat i badrummet och klagar på smärta i höften, vad gör jag nu? " * 30)[:1999]
    answer = assistant.ask(long, role="home-care")
    limit = assistant.settings.retrieval.query_chars
    data = seen[0]
    for step in ("text_embedder", "sparse_embedder"):
        assert len(data[step]["text"]) <= limit
    assert len(data["gate"]["question"]) <= limit
    assert len(data["answer_builder"]["context"]) <= limit
    assert len(long) > 6 * limit
    assert answer.citations and answer.citations[0].doc_id == "fall-dag"

    normal = "Vad gör jag om brukaren har ramlat i badrummet?"
    assistant.ask(normal, role="home-care")
    assert seen[1]["text_embedder"]["text"] == normal
    assert seen[1]["gate"]["question"] == normal
