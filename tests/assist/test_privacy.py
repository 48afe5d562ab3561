"""Personal data never reaches a log or a model; the answer says it was replaced."""

import logging

import pytest
from haystack import component
from haystack.dataclasses import ChatMessage

from assist.privacy import luhn_ok, scrub

# Synthetic identity numbers with valid check digits (the Tax Agency's test series style), seeded and searched for.
PNR = "19121212-1212"
COORDINATION = "701063-2391"
SECRETS = [
    PNR,
    "121212-1212",
    COORDINATION,
    "070-123 45 67",
    "karl.andersson@example.se",
    "Storgatan 12",
    "Karl Andersson",
]
QUESTION = (
    f"Brukaren Karl Andersson {PNR} på Storgatan 12 har ramlat, ring 070-123 45 67 eller "
    f"karl.andersson@example.se. Vem ringer jag?"
)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f"pnr {PNR} ok", "personnummer"),
        ("pnr 1212121212 ok", "personnummer"),
        (f"samordning {COORDINATION}", "personnummer"),
        ("ring 0701234567", "phone"),
        ("ring +46 70 123 45 67", "phone"),
        ("mejla a.b@kommun.example.se", "email"),
        ("bor på Vasavägen 3B", "address"),
        ("brukaren Lisa Berg har ramlat", "name"),
    ],
)
def test_each_kind_is_replaced(text, kind):
    result = scrub(text)
    assert kind in result.found
    assert "[" in result.text


def test_plain_question_is_unchanged():
    q = "Vad gör jag om brukaren har ramlat 2025-01-01 efter 15 minuter?"
    assert scrub(q).text == q


def test_checksum_is_checked():
    assert luhn_ok("8112189876")
    assert not luhn_ok("8112189875")


@component
class RecordingChatGenerator:
    """Stands in for a remote LLM: records exactly what would be sent to it."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    @component.output_types(replies=list[ChatMessage])
    def run(self, messages: list[ChatMessage], streaming_callback: object = None) -> dict:
        self.sent.extend(m.text or "" for m in messages)
        return {"replies": [ChatMessage.from_assistant("Ring sjuksköterskan på 08-123 40 20 inom 15 minuter. [1]")]}


def test_personal_data_reaches_neither_logs_nor_the_model(assistant_factory, caplog):
    assistant = assistant_factory()
    recorder = RecordingChatGenerator()
    assistant.pipeline.get_component("generator").chat_generator = recorder
    caplog.set_level(logging.DEBUG)

    history = [{"role": "user", "content": f"Jag är hos {PNR}"}, {"role": "assistant", "content": "Ok."}]
    answer = assistant.ask(QUESTION, role="home-care", history=history)

    assert recorder.sent, "the generator was called"
    sent = "\n".join(recorder.sent)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in SECRETS:
        assert secret not in sent
        assert secret not in logged
        assert secret not in answer.answer
    assert answer.scrubbed
    assert "personnummer" in answer.notices[0]
    assert answer.citations
