"""Knowledge gaps: recording questions, topics from the real embedder, the 3-question floor, handled marks, CSV, CLI."""

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from assist.cli import app
from assist.roles import load_roles
from assist.schemas import Answer, Citation
from owners.gaps import (
    MIN_ASKERS,
    MIN_DISTINCT,
    GapsSettings,
    QuestionLog,
    asker_id,
    topics_csv,
    visible_collections,
)
from serving.state import Database
from serving.state.models import Question
from tests.conftest import ROLES_CITY

LAUNDRY = [
    "Hur bokar jag tvättstugan åt brukaren?",
    "Var bokar man tvättstuga i brukarens hus?",
    "Hur gör jag för att boka tvättstugan?",
    "Kan jag boka en tid i tvättstugan åt brukaren?",
]
PARKING = [
    "Var får jag parkera bilen vid hembesök?",
    "Vem betalar parkeringsavgiften vid hembesök?",
    "Får hemtjänsten parkera på gatan utanför brukaren?",
]
PETS = [
    "Får barnen ha med sig husdjur till förskolan?",
    "Får man ta med en hund till förskolan?",
    "Kan ett barn ta med sin katt till förskolan?",
]


@pytest.fixture
def log(database: Database) -> Iterator[QuestionLog]:
    # Embedded when read (as `assist gaps` does), not by a worker thread: the test sees every question at once.
    yield QuestionLog(database, embed_in_background=False)


def refused(language: str = "sv") -> Answer:
    # A refusal cites the contacts document: it must not count as the topic's nearest routine.
    contact = Citation(n=1, doc_id="general-kontakter", title="Kontakter", source="general/kontakter.md",
                       quote="Enhetschef", collection="general")
    return Answer(answer="Rutinerna svarar inte på det.", status="refused", citations=[contact], language=language)


def closest(doc_id: str, collection: str) -> Answer:
    cite = Citation(n=1, doc_id=doc_id, title=doc_id, source=f"{collection}/{doc_id}.md", quote="...",
                    collection=collection)
    return Answer(answer="Närmaste rutin: ...", status="closest", citations=[cite])


def record(log: QuestionLog, question: str, answer: Answer, role: str = "home-care", token: str | None = None,
           request_id: str | None = None) -> str:
    """Record `question`; asked by `token`, by default one person per wording (as staff on their own phones)."""
    return log.record(request_id=request_id or f"r_{abs(hash(question)) % 10**9}",
                      token_id=token or f"t_{abs(hash(question.lower())) % 10**9}", role=role,
                      question=question, answer=answer, roles=load_roles(ROLES_CITY),
                      present=["home_care", "preschool", "library", "general"])


def topic_of(topics: list, ids: list[str]):  # noqa: ANN201 - a GapTopic
    """The topic named by one of the questions `ids` (its key is its oldest question's id)."""
    return next(t for t in topics if t.key in ids)


def test_topics_group_similar_questions_per_collection_on_both_databases(log: QuestionLog) -> None:
    laundry_ids = [record(log, q, refused()) for q in LAUNDRY]
    parking_ids = [record(log, q, closest("home_care-nycklar", "home_care")) for q in PARKING[:2]]
    parking_ids.append(record(log, PARKING[2], refused()))
    pets_ids = [record(log, q, refused(), role="preschool") for q in PETS]
    # The same question four times is one distinct question: never a topic (it could point at one person).
    for n in range(4):
        record(log, "Hur bokar jag julbordet för personalen?", refused(), request_id=f"r_julbord{n}")

    topics = log.topics()
    by_label = {t.collection + ":" + t.label: t for t in topics}
    assert len(topics) == 3, by_label.keys()
    laundry = topic_of(topics, laundry_ids)
    assert laundry.collection == "home_care"
    assert laundry.count == 4 and laundry.distinct == 4 and laundry.new == 4
    assert laundry.statuses == {"refused": 4, "closest": 0, "thumbs_down": 0, "low_confidence": 0}
    assert laundry.examples == []  # each wording was asked by one person only
    assert "tvättstugan" in laundry.terms or "tvättstuga" in laundry.terms, laundry.terms
    assert laundry.nearest_doc_id is None  # only refusals, and the contacts citation is not a nearest routine
    assert sum(w.count for w in laundry.trend) == 4 and len(laundry.trend) == 8
    parking = topic_of(topics, parking_ids)
    assert parking.nearest_doc_id == "home_care-nycklar"
    assert parking.statuses["closest"] == 2
    pets = topic_of(topics, pets_ids)
    assert pets.collection == "preschool"
    assert all("julbord" not in e for t in topics for e in t.examples)
    # An owner's scope: only their collections.
    assert {t.collection for t in log.topics(["preschool"])} == {"preschool"}


def test_a_topic_needs_three_distinct_questions(log: QuestionLog) -> None:
    for q in PETS[:MIN_DISTINCT - 1]:
        record(log, q, refused(), role="preschool")
    record(log, PETS[0].upper(), refused(), role="preschool")  # the same question in capitals is not a new one
    assert log.topics() == []
    record(log, PETS[2], refused(), role="preschool")
    assert [t.count for t in log.topics()] == [4]


def test_handled_topics_leave_the_list_and_come_back_with_a_new_question(log: QuestionLog) -> None:
    for q in LAUNDRY[:3]:
        record(log, q, refused())
    [topic] = log.topics()
    marked = log.mark_handled(topic.key, until=topic.last_asked, by="owner-home-care", collections=["home_care"])
    assert marked == 3
    assert log.topics() == []
    [handled] = log.topics(include_handled=True)
    assert handled.handled and handled.new == 0 and handled.handled_at

    record(log, LAUNDRY[3], refused())
    [back] = log.topics()
    assert back.key == topic.key  # the oldest question still names the topic
    assert back.count == 4 and back.new == 1 and not back.handled
    with pytest.raises(KeyError):
        log.mark_handled("q_unknown", until=back.last_asked, by="admin")


def test_marking_handled_spares_questions_newer_than_what_the_owner_saw(log: QuestionLog) -> None:
    for q in LAUNDRY[:3]:
        record(log, q, refused())
    [seen] = log.topics()
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat(timespec="seconds")
    record(log, LAUNDRY[3], refused())
    with log.db.begin() as conn:  # the fourth question arrived after the owner loaded the page
        conn.execute(update(Question).where(Question.question == LAUNDRY[3]).values(created=later))
    assert log.mark_handled(seen.key, until=seen.last_asked, by="admin") == 3
    [still] = log.topics()
    assert still.new == 1


def test_a_thumbs_down_turns_an_answered_question_into_a_gap(log: QuestionLog) -> None:
    cite = Citation(n=1, doc_id="home_care-fall", title="Fall", source="home_care/fall.md", quote="...",
                    collection="home_care")
    for n, q in enumerate(LAUNDRY[:3]):
        record(log, q, Answer(answer="Gör så här [1].", citations=[cite]), token=f"t_asker{n}", request_id=f"r_ok{n}")
    with log.db.begin() as conn:  # an answered question's text never reaches the database unless rated down
        assert conn.execute(select(Question.question_id)).all() == []
    assert log.topics() == []
    assert not log.rate_down("r_ok0", "t_someone_else")  # only the caller who got the answer
    assert all(log.rate_down(f"r_ok{n}", f"t_asker{n}") for n in range(3))
    assert not log.rate_down("r_ok0", "t_asker0")  # once
    [topic] = log.topics()
    assert topic.statuses["thumbs_down"] == 3 and topic.nearest_doc_id == "home_care-fall"


def test_questions_are_stored_scrubbed(log: QuestionLog) -> None:
    record(log, "Brukaren Anna Svensson 19121212-1212 på Storgatan 3 har ramlat, vad gör jag?", refused())
    with log.db.begin() as conn:
        text = conn.execute(select(Question.question)).scalar_one()
    assert "19121212" not in text and "Storgatan 3" not in text and "Svensson" not in text


def test_roles_that_read_everything_keep_unplaced_questions_apart(log: QuestionLog) -> None:
    record(log, LAUNDRY[0], refused(), role="admin")
    record(log, PARKING[0], closest("home_care-nycklar", "home_care"), role="admin")
    with log.db.begin() as conn:
        rows = dict(conn.execute(select(Question.question, Question.collection)).all())
    assert rows == {LAUNDRY[0]: "*", PARKING[0]: "home_care"}


def test_csv_export_defuses_formulas(log: QuestionLog) -> None:
    for q in ["=HYPERLINK(\"http://x\") tvättstuga bokning?", *LAUNDRY[:3]]:
        record(log, q, refused())
    text = topics_csv(log.topics())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and rows[0]["collection"] == "home_care"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())


def test_only_admins_and_owners_see_gaps() -> None:
    roles = load_roles(ROLES_CITY)
    assert visible_collections(roles, "admin") is None
    assert visible_collections(roles, "owner-home-care") == ["home_care"]
    with pytest.raises(PermissionError):
        visible_collections(roles, "home-care")


def test_assist_gaps_json_reads_the_service_database(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("ASSIST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ASSIST_ROLES_FILE", str(ROLES_CITY))
    monkeypatch.delenv("ASSIST_DATABASE__URL", raising=False)
    log = QuestionLog(Database.sqlite(tmp_path / "serving.sqlite"))
    for q in LAUNDRY:
        record(log, q, refused())
    log.close()

    result = CliRunner().invoke(app, ["gaps", "--json"])
    assert result.exit_code == 0, result.output
    [topic] = json.loads(result.stdout)
    assert {"collection", "label", "count", "examples", "nearest_doc_id"} <= topic.keys()
    assert topic["collection"] == "home_care" and topic["count"] == 4

    marked = CliRunner().invoke(app, ["gaps", "--mark-handled", topic["key"]])
    assert marked.exit_code == 0, marked.output
    assert json.loads(CliRunner().invoke(app, ["gaps", "--json"]).stdout) == []
    unknown = CliRunner().invoke(app, ["gaps", "--mark-handled", "q_nope"])
    assert unknown.exit_code == 2


def test_answered_questions_are_held_for_feedback_only_so_long(
    log: QuestionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    import owners.gaps  # noqa: PLC0415

    monkeypatch.setattr(owners.gaps, "ANSWERED_MAX", 2)
    answered = Answer(answer="Gör så här.", citations=[])
    for n in range(3):
        record(log, f"Fråga {n}?", answered, token="t_1", request_id=f"r_{n}")
    assert not log.rate_down("r_0", "t_1")  # the oldest made room for the newest
    monkeypatch.setattr(owners.gaps, "ANSWERED_KEEP", timedelta(0))
    assert not log.rate_down("r_1", "t_1")  # too late: feedback is not expected after ANSWERED_KEEP
    with log.db.begin() as conn:
        assert conn.execute(select(Question.question_id)).all() == []


def test_past_max_direct_a_sample_is_clustered_and_the_rest_join_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np  # noqa: PLC0415

    import owners.gaps  # noqa: PLC0415

    monkeypatch.setattr(owners.gaps, "MAX_DIRECT", 50)
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(5, 64))
    sizes = [60, 60, 60, 60, 3]  # the last topic is rare: the sample may well miss it
    vectors = np.vstack([c + rng.normal(scale=0.02, size=(n, 64)) for c, n in zip(centres, sizes, strict=True)])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = owners.gaps.cluster(vectors, 0.12)
    planted = np.repeat(np.arange(5), sizes)
    # The same partition as the planted one, whatever the label numbers.
    assert len(set(labels)) == 5
    assert all(len(set(labels[planted == t])) == 1 for t in range(5))


def test_a_topic_counts_the_questions_own_languages(log: QuestionLog) -> None:
    english = ["How much does a monthly bus ticket cost?", "What is the price of a monthly bus pass?",
               "How much is the bus card per month?"]
    for q in english:
        # An extractive answer may carry its source's language; the question's own language is what counts here.
        record(log, q, refused(language="sv"))
    [topic] = log.topics()
    assert topic.languages == {"en": 3}


def test_rewordings_from_one_asker_make_no_topic(log: QuestionLog) -> None:
    """Issue 23: three rewordings from one token made a topic. The floor counts people, not texts."""
    for n, q in enumerate(LAUNDRY):
        record(log, q, refused(), token="t_one", request_id=f"r_one{n}")
    assert log.topics() == []
    record(log, "Hur bokar jag tvättstugan åt brukaren i morgon?", refused(), token="t_two")
    assert log.topics() == []  # two people
    record(log, "Går det att boka tvättstugan åt en brukare?", refused(), token="t_three")
    [topic] = log.topics()
    assert topic.count == len(LAUNDRY) + 2
    with log.db.begin() as conn:  # the pseudonym, never the token's id, is what the row keeps
        askers = set(conn.execute(select(Question.asker)).scalars())
    assert askers == {asker_id(t) for t in ("t_one", "t_two", "t_three")}
    assert not any("t_one" in a for a in askers)


def test_an_example_is_a_text_several_people_asked(log: QuestionLog) -> None:
    """Issue 23: a question asked once appeared as an example inside another topic. An example's own text needs
    MIN_ASKERS askers; so does a word of the label (a surname the scrub missed is typed by one person).
    """
    common = LAUNDRY[0]
    for n in range(MIN_ASKERS):
        record(log, common, refused(), token=f"t_common{n}", request_id=f"r_common{n}")
    once = "Hur bokar jag tvättstugan åt Zqwbrk som inte kan gå ner själv?"
    record(log, once, refused(), token="t_once")
    for n, q in enumerate(LAUNDRY[1:]):
        record(log, q, refused(), token=f"t_other{n}", request_id=f"r_other{n}")
    [topic] = log.topics()
    assert topic.examples == [common]
    assert once not in topic.examples
    assert "zqwbrk" not in topic.terms and "zqwbrk" not in topic.label.lower()
    assert topics_csv([topic]).count("Zqwbrk") == 0


def test_questions_past_an_askers_daily_cap_are_counted_not_stored(database: Database) -> None:
    """Issue 23: one asker could fill the database (and the first gaps call's embedding) with questions."""
    log = QuestionLog(database, gaps=GapsSettings(max_questions_per_asker_per_day=2), embed_in_background=False)
    ids = [record(log, q, refused(), token="t_busy", request_id=f"r_busy{n}") for n, q in enumerate(LAUNDRY)]
    record(log, PARKING[0], refused(), token="t_other")
    with log.db.begin() as conn:
        stored = set(conn.execute(select(Question.question_id)).scalars())
    assert stored & set(ids) == set(ids[:2])  # the first two only
    assert len(stored) == 3 and log.over_cap == 2  # another asker is not held back; the others are counted
    # The cap is per 24 hours: once the first two are older, the asker is recorded again.
    with log.db.begin() as conn:
        conn.execute(update(Question).values(created=(datetime.now(UTC) - timedelta(days=2)).isoformat()))
    later = record(log, LAUNDRY[0], refused(), token="t_busy", request_id="r_busy_later")
    with log.db.begin() as conn:
        assert conn.execute(select(Question.question_id).where(Question.question_id == later)).scalar_one()


def test_answers_given_with_low_confidence_are_recorded_scrubbed(log: QuestionLog) -> None:
    """Issue 24: gaps never saw wrong 'answered' replies unless rated down. An answer whose answerability was just
    above the threshold is recorded at once (scrubbed, marked), a confident one is not.
    """
    from assist.grounding import load_calibration  # noqa: PLC0415

    threshold = load_calibration().threshold
    cite = Citation(n=1, doc_id="home_care-fall", title="Fall", source="home_care/fall.md", quote="...",
                    collection="home_care")

    def answered(p: float) -> Answer:
        return Answer(answer="Gör så här [1].", citations=[cite], answerability=p)

    confident = record(log, "Vad gör jag när en brukare har ramlat?", answered(threshold + 0.4), request_id="r_sure")
    unsure = [record(log, f"Brukaren Anna Svensson på Storgatan 3 {q}", answered(threshold + 0.02), token=f"t_u{n}",
                     request_id=f"r_unsure{n}") for n, q in enumerate(LAUNDRY[:3])]
    with log.db.begin() as conn:
        rows = conn.execute(select(Question.question_id, Question.status, Question.question)).all()
    assert {r.question_id for r in rows} == set(unsure) and confident not in {r.question_id for r in rows}
    assert all(r.status == "answered" for r in rows)
    assert not any("Svensson" in r.question or "Storgatan 3" in r.question for r in rows)
    # A thumbs-down on one of them marks its row; it adds no second row.
    assert log.rate_down("r_unsure0", "t_u0")
    [topic] = log.topics()
    assert topic.statuses == {"refused": 0, "closest": 0, "thumbs_down": 1, "low_confidence": 2}
    assert topic.nearest_doc_id == "home_care-fall"


def test_a_topics_label_reads_as_a_question_or_its_key_words_in_order() -> None:
    """Issue 24: labels read like 'brukarens, hund, tar'. A label is the topic's most typical question that several
    people asked; else its key words, without verbs such as 'tar', in the order a question uses them.
    """
    import numpy as np  # noqa: PLC0415

    from owners.gaps import StoredQuestion, build_topics  # noqa: PLC0415

    def asked(texts: list[str]) -> list[StoredQuestion]:
        return [StoredQuestion(question_id=f"q_{n:02d}", created=f"2026-12-0{1 + n % 5}T08:00:00+00:00",
                               status="refused", thumbs_down=False, collection="home_care", language="sv",
                               question=text, nearest_doc_id=None, handled=None, asker=f"a_{n}")
                for n, text in enumerate(texts)]

    dog = ["Brukarens hund tar min väska", "Brukarens hund tar tag i byxorna", "En hund som tar maten hos brukarens",
           "Vad gör jag när hund tar nycklarna?"]
    questions = asked(dog)
    [topic] = build_topics(questions, np.ones((len(questions), 4), dtype=np.float32))
    assert topic.examples == []  # each asked once
    assert "tar" not in topic.terms and "tar" not in topic.label.split(", "), topic.label
    assert set(topic.label.split(", ")) == {"hund", "brukarens"}, topic.label

    common = "Får brukarens hund vara lös när jag kommer?"
    questions = asked([*dog[:2], common, common, common])
    [topic] = build_topics(questions, np.ones((len(questions), 4), dtype=np.float32))
    assert topic.label == common == topic.examples[0]
