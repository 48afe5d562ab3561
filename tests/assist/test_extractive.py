"""The extractive answer's shape: the answer on the first line, then the routine's steps for that case in its order;
at most three lines for a fact; the day or night routine the question names; variants labelled."""

from haystack import Document

from assist.components.extractive import FACT_ANSWER_LINES, extract

NIGHT = Document(
    content=(
        "1. Gå fram lugnt och fråga var det gör ont.\n"
        "2. Ring 112 direkt om brukaren är medvetslös eller har slagit i huvudet.\n"
        "3. Ring i alla andra fall nattsjuksköterskan på 08-123 40 99 inom 5 minuter.\n"
        "4. Ring därefter nattpatrullens arbetsledare på 08-123 40 90.\n"
        "5. Res aldrig brukaren ensam nattetid."
    ),
    meta={"doc_id": "fall-natt", "title": "Fall hos brukare – natt", "language": "sv", "chunk": 2,
          "section": "Fall hos brukare – natt (21.30–07.00) > Arbetsgång"},
)
NIGHT_TABLE = Document(
    content=(
        "| | Dag | Natt |\n| --- | --- | --- |\n"
        "| Vem ringer du först | Sjuksköterska dag 08-123 40 20 | Nattsjuksköterska 08-123 40 99 |\n"
        "| Hur snabbt | Inom 15 minuter | Inom 5 minuter |"
    ),
    meta={"doc_id": "fall-natt", "title": "Fall hos brukare – natt", "language": "sv", "chunk": 3,
          "section": "Fall hos brukare – natt (21.30–07.00) > Skillnader mot dagrutinen"},
)
DAY = Document(
    content=(
        "1. Gå fram lugnt och tala med brukaren.\n"
        "2. Ring 112 om brukaren är medvetslös eller har ont i höften.\n"
        "3. Ring i alla andra fall sjuksköterskan dagtid på 08-123 40 20 inom 15 minuter.\n"
        "4. Lägg en filt över brukaren medan ni väntar.\n"
        "5. Skriv en avvikelse inom 24 timmar."
    ),
    meta={"doc_id": "fall-dag", "title": "Fall hos brukare – dagtid", "language": "sv", "chunk": 2,
          "section": "Fall hos brukare – dagtid (07.00–21.30) > Arbetsgång"},
)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


class TestTheAnswerFirst:
    def test_a_label_and_the_number_it_names_are_one_line(self) -> None:
        doc = Document(content="- Data protection officer: 08-123 80 80, dpo@example.se\n- Registrar: 08-123 80 00",
                       meta={"doc_id": "gdpr", "language": "en"})
        answer = extract("what is the data protection officer's phone number?", [doc], "en")
        assert lines(answer)[0] == "- Data protection officer: 08-123 80 80, dpo@example.se [1]"

    def test_a_fall_in_the_daytime_gets_the_day_nurses_number_on_the_first_line(self) -> None:
        # The night routine ranks first (its comparison table names the day too): the day routine still answers.
        answer = extract("brukare ramlat på dagen, vem ringer jag?", [NIGHT_TABLE, NIGHT, DAY], "sv")
        first = lines(answer)[0]
        assert "08-123 40 20" in first
        assert first.endswith("[3]")
        assert "08-123 40 99" not in answer  # the night routine's numbers are not the answer to a day question

    def test_a_fact_question_is_answered_in_at_most_three_lines(self) -> None:
        answer = extract("vilket nummer ringer jag till sjuksköterskan när en brukare har ramlat?", [DAY], "sv")
        assert len(lines(answer)) <= FACT_ANSWER_LINES
        assert "08-123 40 20" in lines(answer)[0]

    def test_the_steps_after_the_first_line_keep_the_routines_order(self) -> None:
        answer = extract("vad gör jag när en brukare har ramlat och är medvetslös", [DAY], "sv")
        got = lines(answer)
        steps = [s for s in ("Gå fram", "Ring 112", "Ring i alla andra fall", "filt", "avvikelse")
                 if any(s in line for line in got[1:])]
        positions = [next(i for i, line in enumerate(got) if s in line) for s in steps]
        assert positions == sorted(positions)

    def test_no_figures_are_added_beside_the_answer(self) -> None:
        # A fact question's answer is the fact and what qualifies it, not every figure of the routine.
        answer = extract("hur snabbt ska jag ringa sjuksköterskan på dagen?", [DAY], "sv")
        assert "15 minuter" in lines(answer)[0]
        assert "24 timmar" not in answer


class TestVariants:
    def test_a_time_of_day_in_the_question_picks_the_routine_whose_hours_hold_it(self) -> None:
        answer = extract("hur lång tid har jag på mig att ringa ssk efter ett fall kl 20 på kvällen",
                         [NIGHT_TABLE, NIGHT, DAY], "sv")
        assert "15 minuter" in lines(answer)[0]
        assert "5 minuter" not in answer.replace("15 minuter", "")

    def test_a_table_comparing_the_variants_shows_the_asked_ones_column(self) -> None:
        answer = extract("vem ringer jag först på natten?", [NIGHT_TABLE], "sv")
        assert "Natt: Nattsjuksköterska 08-123 40 99" in answer
        assert "Dag:" not in answer

    def test_lines_from_two_variants_are_labelled_when_the_question_names_neither(self) -> None:
        got = lines(extract("vem ringer jag när en brukare har ramlat?", [NIGHT, DAY], "sv"))
        # Each variant's answer is shown, its run of lines opened by its label from the routine's title.
        assert got[0].startswith("- Natt: ") and "08-123 40 99" in got[0]
        day = next(i for i, line in enumerate(got) if line.startswith("- Dagtid: "))
        assert "08-123 40 20" in got[day]
        assert all(line.startswith("- Natt: ") == (i == 0) for i, line in enumerate(got[:day]))

    def test_a_question_in_another_language_names_the_night_too(self) -> None:
        scores = {"Ring i alla andra fall nattsjuksköterskan på 08-123 40 99 inom 5 minuter.": 0.9}
        answer = extract("Klientka upadła w nocy, do kogo dzwonię?", [DAY, NIGHT], "pl", unit_scores=scores)
        assert "08-123 40 20" not in answer


class TestOtherLanguages:
    def test_a_question_word_of_another_language_asks_for_its_kind_of_fact(self) -> None:
        from assist.answer_types import DURATION, MONEY, TEMPERATURE, asked_kinds

        assert asked_kinds("Wie kalt muss der Kühlschrank sein?", "de", extended=True) == {TEMPERATURE}
        assert asked_kinds("Jak długo ważna jest delegacja?", "pl", extended=True) == {DURATION}
        assert MONEY in asked_kinds("klientka chce żebym zapłaciła za 350 kr, mogę?", "pl", extended=True)
        assert asked_kinds("Wie kalt muss der Kühlschrank sein?", "de") == frozenset()  # the grounding's reading

    def test_the_sentence_stating_the_asked_fact_opens_the_answer_chosen_by_meaning(self) -> None:
        doc = Document(
            content="Har brukaren ingen kylskåpstermometer, meddela samordningen.\n"
            "Kontrollera att kylskåpet håller högst 5 °C.",
            meta={"doc_id": "mat", "language": "sv"},
        )
        # Nearest in meaning is the thermometer sentence; the question asks how cold: the 5 °C sentence answers.
        scores = {"Har brukaren ingen kylskåpstermometer, meddela samordningen.": 0.86,
                  "Kontrollera att kylskåpet håller högst 5 °C.": 0.85}
        answer = extract("Wie kalt muss der Kühlschrank beim Kunden sein?", [doc], "de", unit_scores=scores)
        assert "5 °C" in lines(answer)[0]
