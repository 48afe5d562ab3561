"""Personal data never reaches a log or a model; the answer says it was replaced."""

import importlib.util
import logging
from pathlib import Path

import pytest

from assist.privacy import luhn_ok, scrub
from tests.conftest import RecordingChatGenerator

ROOT = Path(__file__).resolve().parents[2]

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
        ("kortet 4111 1111 1111 1111 ligger kvar", "card"),
        ("brukaren är född 1938-04-17", "birth_date"),
        ("born on 12 March 1945", "birth_date"),
    ],
)
def test_each_kind_is_replaced(text, kind):
    result = scrub(text)
    assert kind in result.found
    assert "[" in result.text


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        # The misses reported against the first scrub.
        ("brukaren mohammed ali på drottninggatan 3 har ramlat", "brukaren [NAMN] på [ADRESS] har ramlat"),
        ("Olle Persson vill inte äta", "[NAMN] vill inte äta"),
        ("Ahmed Yusuf, Rinkebystråket 12, svarar inte", "[NAMN], [ADRESS], svarar inte"),
        ("Olle på Vintergatan 7 har ramlat", "[NAMN] på [ADRESS] har ramlat"),
        # Cues, lower case, given names alone, surnames beside ambiguous given names.
        ("barnet heter omar och har astma", "barnet heter [NAMN] och har astma"),
        ("mamma till Amira ringer", "mamma till [NAMN] ringer"),
        ("kan Khadra hämta Ismail idag?", "kan [NAMN] hämta [NAMN] idag?"),
        ("Per Svensson har ramlat", "[NAMN] har ramlat"),
        ("The client Mr Andersson refuses", "The client Mr [NAMN] refuses"),
        ("Samira El Amrani har hämtat", "[NAMN] har hämtat"),
        ("kan jag ge Klara medicinen nu?", "kan jag ge [NAMN] medicinen nu?"),
        ("Ida Mansouri och Tim Ek har sökt", "[NAMN] och [NAMN] har sökt"),
        ("brukaren karzan rashid har ramlat", "brukaren [NAMN] har ramlat"),
        # Addresses: flat numbers, two-word streets, postal codes, a letter spaced or written on.
        ("Storgatan 3B, lgh 1102, har inget nyckelskåp", "[ADRESS], har inget nyckelskåp"),
        ("Adressen är Tensta allé 8, 163 64 Spånga", "Adressen är [ADRESS], [ADRESS] Spånga"),
        ("till Fittjavägen 5 A nu", "till [ADRESS] nu"),
        ("Hämtning vid Rosenlundsbacken 7 i dag", "Hämtning vid [ADRESS] i dag"),
        # The misses of issue 23: -svängen, -bryggan, -udden, an English address, surnames alone, a card number, a
        # birth date.
        ("Anna Zetterqvist på Kvarnbäcksvängen 7 har ramlat", "[NAMN] på [ADRESS] har ramlat"),
        ("nyckeln till Sjöbryggan 3 och Granudden 14 B", "nyckeln till [ADRESS] och [ADRESS]"),
        ("The client at 14 Baker Street fell", "The client at [ADRESS] fell"),
        ("Svensson har ramlat", "[NAMN] har ramlat"),
        ("min chef Johansson säger nej", "min chef [NAMN] säger nej"),
        ("ska jag fråga Zetterqvist först?", "ska jag fråga [NAMN] först?"),
        ("betala med 4111 1111 1111 1111?", "betala med [KORTNUMMER]?"),
        ("barnet är född den 3 maj 2021", "barnet är född den [FÖDELSEDATUM]"),
        ("Date of birth: 07/11/1960, what now?", "Date of birth: [FÖDELSEDATUM], what now?"),
    ],
)
def test_names_and_addresses_are_replaced(text, scrubbed):
    assert scrub(text).text == scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "Per dag, hur många besök får en brukare?",
        "Hans mamma vill hämta, står hon på listan?",
        "Bo kvar hemma eller flytta, vem beslutar?",
        "Mötet hålls på plan 4, hur bokar jag tolk?",
        "Trappan till våningsplan 3 är avstängd",
        "Var hittar jag rutinen för värmebölja i Region Stockholm?",
        "Mark the deviation report as urgent, how?",
        "group showed up 20 min late and someone else is in their room",
        "när testas hesa fredrik",
        "vad kostar en lånecykel i stan",
        "Goorma ayaan shaqada ku soo laaban karaa?",
        "Får barnen vara ute i 15 minuter när det är minus 10?",
        "Hur gör jag en lex Sarah-anmälan?",
        "Max antal omlån per lånekort?",
        "Om inget annat är ordinerat bör brukaren dricka 1,5 liter per dygn.",
        "Never use your city password anywhere else.",
        "| Dag | Natt |",
        "Besöket tar 2 tim och kostar max 200 kr",
        "Temperaturer Max minst 26 °C tre dagar i följd",
        "Andra Inga Alla",
        # Dates that are no one's birth date, a long number that fails the card check, place names.
        "Vad gäller från 2026-01-01 för nya brukare?",
        "Mötet är den 12 mars 2026 i stora salen",
        "Ordernumret 1234 5678 9012 3456 stämmer inte",
        "Lund har ett nytt bibliotek, gäller samma regler där?",
        "Cik maksā starpbibliotēku abonements?",
    ],
)
def test_words_that_look_like_names_stay(text):
    assert scrub(text).text == text


def _bench():
    spec = importlib.util.spec_from_file_location("bench_privacy", ROOT / "bench" / "bench_privacy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_battery_recall_and_false_positives():
    """Measured by bench/bench_privacy.py on tests/data/privacy_battery.jsonl; the floors sit a little under it."""
    bench = _bench()
    rows = bench.load_battery()
    assert sum(len(r["names"]) for r in rows) >= 50
    result = bench.measure(rows)
    assert result["recall"]["names"]["recall"] >= 0.95, result["missed"]
    assert result["recall"]["addresses"]["recall"] >= 0.9, result["missed"]
    held_out = bench.measure([r for r in rows if r.get("held_out")])
    assert held_out["recall"]["names"]["recall"] >= 0.9, held_out["missed"]
    assert result["false_positive_words_battery"] <= 1, result["false_positive_words_list"]
    assert result["name_free_questions_changed"] == 0, result["name_free_changed"]


def test_kinds_added_after_issue_23_on_rows_written_after_the_detector():
    """Rows `held3-*` were written after the detector learnt card numbers, birth dates, -svängen/-bryggan/-udden,
    English addresses and surnames alone (by the same hand, so the figures are optimistic); measured apart.
    Before that change the same rows measured names 3/12, addresses 0/10, cards 0/5, birth dates 2/8.
    """
    bench = _bench()
    rows = [r for r in bench.load_battery() if r["id"].startswith("held3-")]
    assert len(rows) >= 40
    result = bench.measure(rows)
    assert result["recall"]["names"]["recall"] >= 0.9, result["missed"]
    assert result["recall"]["addresses"]["recall"] >= 0.9, result["missed"]
    assert result["false_positive_words_battery"] == 0, result["false_positive_words_list"]
    assert result["name_free_questions_changed"] == 0, result["name_free_changed"]
    for kind in ("cards", "birth_dates"):
        seeded = [(r, e) for r in rows for e in r.get(kind, [])]
        assert len(seeded) >= 5
        left = [(r["id"], e) for r, e in seeded if e in scrub(r["text"]).text]
        assert not left, left


def test_no_word_of_an_eval_question_is_taken_for_a_name_or_address():
    bench = _bench()
    result = bench.eval_false_positives([ROOT / "eval_sets" / "dev.jsonl", ROOT / "eval_sets" / "test.jsonl"])
    assert result["questions"] > 200
    assert result["words_wrongly_replaced"] == 0, result["questions_changed"]


def test_scrubbed_question_keeps_what_it_asks():
    """Only the personal data goes: the question's own words stay, so retrieval still finds the routine."""
    out = scrub("brukaren Fatima Hassan på Vasagatan 14 har ramlat i badrummet, vem ringer jag?").text
    assert out == "brukaren [NAMN] på [ADRESS] har ramlat i badrummet, vem ringer jag?"


def test_a_question_with_a_name_and_an_address_still_finds_its_routine(assistant_factory):
    answer = assistant_factory().ask(
        "brukaren mohammed ali på drottninggatan 3 har ramlat, vem ringer jag?", role="home-care"
    )
    assert answer.scrubbed
    assert "address" in answer.notices[0]
    assert "name" in answer.notices[0]
    assert answer.citations[0].doc_id == "fall-dag"
    assert "mohammed" not in answer.answer.lower()
    assert "drottninggatan" not in answer.answer.lower()


def test_plain_question_is_unchanged():
    q = "Vad gör jag om brukaren har ramlat 2025-01-01 efter 15 minuter?"
    assert scrub(q).text == q


def test_checksum_is_checked():
    assert luhn_ok("8112189876")
    assert not luhn_ok("8112189875")


def test_personal_data_reaches_neither_logs_nor_the_model(assistant_factory, caplog):
    assistant = assistant_factory()
    recorder = RecordingChatGenerator("Ring sjuksköterskan på 08-123 40 20 inom 15 minuter. [1]")
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
