"""The kind of fact a question asks for, and whether a sentence states it."""

import pytest

from assist.answer_types import (
    AGE,
    COUNT,
    DURATION,
    MONEY,
    PHONE,
    TEMPERATURE,
    TIME,
    asked_kinds,
    stated_kinds,
    states,
)


@pytest.mark.parametrize(
    ("question", "language", "kind"),
    [
        ("hur länge får man låna en bok", "sv", DURATION),
        ("How long can I borrow a book?", "en", DURATION),
        ("vad kostar fjärrlån", "sv", MONEY),
        ("how much is colour printing A4", "en", MONEY),
        ("hur många e-böcker får man låna i veckan", "sv", COUNT),
        ("när är språkcaféet", "sv", TIME),
        ("vem ringer jag när brukaren har ramlat", "sv", PHONE),
        ("hur kall ska matlådan vara", "sv", TEMPERATURE),
        ("vilken åldersgräns har meröppet", "sv", AGE),
        ("kan en 16-åring få meröppet", "sv", AGE),  # a question that states an age asks for the age rule
        ("can a 12-year-old get a library card", "en", AGE),
        ("brukaren vill att jag handlar för 800 kr", "sv", MONEY),  # ... and an amount for the amount allowed
    ],
)
def test_question_asks_for_a_kind_of_fact(question, language, kind):
    assert kind in asked_kinds(question, language)


def test_open_questions_and_other_languages_ask_for_no_kind():
    assert asked_kinds("får jag använda storasyster som tolk", "sv") == frozenset()
    # Question words of languages the routines are not written in are not read.
    assert asked_kinds("Paljonko kaukolaina maksaa?", "fi") == frozenset()


def test_a_sentence_states_the_kind_asked_for():
    duration = frozenset({DURATION})
    assert states("Böcker och ljudböcker | Lånetid: 28 dagar", duration)
    assert not states("Besökaren kan låna om själv i appen.", duration)
    money = frozenset({MONEY})
    assert states("Fjärrlån kostar 20 kronor per beställning.", money)
    assert states("Reservationer är avgiftsfria.", money)  # free is a price too
    assert states("Lånekortet är gratis.", money)
    assert states("Ring sjuksköterskan på 08-123 40 20.", frozenset({PHONE}))
    assert not states("Ring sjuksköterskan.", frozenset({PHONE}))
    assert states("Maten ska hålla högst 8 °C.", frozenset({TEMPERATURE}))
    assert states("Öppet måndag–fredag 10.00–19.00", frozenset({TIME}))
    assert states("Högst 5 aktiva beställningar.", frozenset({COUNT}))


def test_the_extractive_answer_prefers_the_sentence_that_states_what_was_asked():
    from haystack import Document

    from assist.components.extractive import extract

    doc = Document(
        content="Besökaren kan låna om boken 3 gånger i appen.\nEn bok lånas i 28 dagar.\nBoken lånas med lånekort.",
        meta={"doc_id": "lan", "language": "sv"},
    )
    first = extract("hur länge får man låna en bok", [doc], "sv", max_sentences=1)
    assert "28 dagar" in first


def test_a_question_in_another_language_is_answered_by_the_sentences_nearest_in_meaning():
    from haystack import Document

    from assist.components.extractive import extract

    doc = Document(
        content="Gå fram lugnt och fråga var det gör ont.\nRing nattsjuksköterskan på 08-123 40 99 inom 5 minuter.",
        meta={"doc_id": "fall-natt", "language": "sv"},
    )
    question = "Klientka upadła w nocy, do kogo dzwonię?"
    first_sentence = extract(question, [doc], "pl", max_sentences=1)
    assert "Gå fram lugnt" in first_sentence  # no word matches: the routine's first sentence
    scores = {"Gå fram lugnt och fråga var det gör ont.": 0.80,
              "Ring nattsjuksköterskan på 08-123 40 99 inom 5 minuter.": 0.84}
    chosen = extract(question, [doc], "pl", max_sentences=1, unit_scores=scores)
    assert "08-123 40 99" in chosen
    assert "Gå fram" not in chosen


def test_another_routines_sentence_is_quoted_only_when_it_carries_the_question_as_well():
    from haystack import Document

    from assist.components.extractive import extract

    top = Document(content="Brandövning görs två gånger per år.", meta={"doc_id": "brand", "language": "sv"})
    other = Document(content="Personalen planerar övningar i brandskydd.\nBrandövning och utrymning övas på våren.",
                     meta={"doc_id": "annan", "language": "sv"})
    answer = extract("hur ofta ska vi ha brandövning", [top, other], "sv")
    assert "två gånger per år" in answer
    assert "[2]" not in answer  # the other routine's sentences carry the question less well than the top one's


def test_a_stated_quantity_is_told_apart_from_a_question_word():
    assert stated_kinds("kan en 16-åring få meröppet", "sv") == frozenset({AGE})
    assert stated_kinds("brukaren vill att jag handlar för 800 kr kontant", "sv") == frozenset({MONEY})
    assert stated_kinds("vad kostar fjärrlån", "sv") == frozenset()  # asks for a price, states none
    assert states("Ungdomar från 15 år kan få behörighet.", frozenset({AGE}))
    assert not states("Ungdomar kan få behörighet.", frozenset({AGE}))


def test_a_question_that_states_a_quantity_is_answered_with_the_routines_rule_for_it():
    from haystack import Document

    from assist.components.extractive import extract

    doc = Document(
        content=(
            "Besökaren ska vara minst 18 år.\nMeröppet gör att besökare kan använda biblioteket utan personal.\n"
            "Meröppet finns på två bibliotek."
        ),
        meta={"doc_id": "meroppet", "language": "sv"},
    )
    assert "minst 18 år" in extract("kan en 16-åring få meröppet", [doc], "sv")  # though it does not say meröppet
    # A question that states no age does not get the age rule.
    assert "minst 18 år" not in extract("kan man få meröppet", [doc], "sv")
    other = Document(content="Besökare under 18 år behöver en vuxen.", meta={"doc_id": "annan", "language": "sv"})
    assert "[2]" not in extract("kan en 16-åring få meröppet", [doc, other], "sv")  # only the top routine's rule


def test_a_sentence_that_announces_a_table_brings_its_rows():
    from haystack import Document

    from assist.components.extractive import extract

    doc = Document(
        content=(
            "Förskolorna har fyra stängda planeringsdagar per år.\nUnder 2025 är det:\n\n"
            "| Datum | Dag |\n|---|---|\n| 2025-01-07 | tisdag |\n| 2025-05-30 | fredag |\n| 2025-08-11 | måndag |\n"
            "\nVårdnadshavare anmäler sommarförskola senast 15 april."
        ),
        meta={"doc_id": "stangning", "language": "sv"},
    )
    answer = extract("vilka planeringsdagar har vi 2025", [doc], "sv", max_sentences=2)
    assert "Under 2025 är det:" in answer
    assert all(day in answer for day in ("2025-01-07", "2025-05-30", "2025-08-11"))
    assert "sommarförskola" not in answer


def test_when_asks_for_a_time_only_where_it_opens_the_question():
    assert TIME in asked_kinds("när är språkcaféet", "sv")
    assert TIME in asked_kinds("och när stänger biblioteket?", "sv")
    assert TIME in asked_kinds("When is digital help drop-in?", "en")
    assert TIME not in asked_kinds("får man ha klocka på sig när man jobbar", "sv")  # "when" joins two clauses
    assert TIME not in asked_kinds("what do I do when a visitor falls asleep", "en")
