"""Runs the real assistant over eval rows, scoring each question as it finishes and appending it to the run store."""

import logging
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any, Protocol

from assist.evaluation import EvalRow, load_rows
from assist.settings import Settings
from qa.judge import RagasJudge
from qa.metrics import score_row, summarize
from qa.ragas_nollm import NoLlmRagas
from qa.store import ROOT, Run, RunStore, git_commit

logger = logging.getLogger(__name__)
EVAL_SETS = ROOT / "eval_sets"


class Answerer(Protocol):
    """What the runner needs of `assist.pipeline.Assistant`."""

    def answer_with_sources(self, question: str, role: str, *, language: str | None = None,
                            history: list[dict[str, str]] | None = None) -> tuple[Any, list[Any]]: ...

    def close(self) -> None: ...


#: Files in eval_sets/ that hold training rows, never measured on.
TRAINING_SETS = frozenset({"train"})


def set_paths(names: Sequence[str]) -> list[Path]:
    """Eval set files from names ('dev'), file paths, or every eval set in eval_sets/ when none is given (the
    training rows, train.jsonl, are not an eval set: they are what models are fitted on)."""
    if not names:
        return [p for p in sorted(EVAL_SETS.glob("*.jsonl")) if p.stem not in TRAINING_SETS]
    paths = []
    for name in names:
        p = Path(name)
        candidates = [p, EVAL_SETS / name, EVAL_SETS / f"{name}.jsonl"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            known = ", ".join(q.stem for q in sorted(EVAL_SETS.glob("*.jsonl")))
            msg = f"No eval set {name!r}: give a JSONL file or one of {known}."
            raise FileNotFoundError(msg)
        paths.append(found)
    return paths


def load_sets(paths: Sequence[Path], limit: int | None = None) -> list[tuple[str, EvalRow]]:
    """(set name, row) pairs; `limit` keeps N rows of each set, sampled across answerable and must-refuse rows and
    across languages (the first N rows of a set are often all answerable and all Swedish), in file order.

    The sample is the same on every run: each (answerable, language) group gives its next row in turn, groups in
    the order they first appear, answerable and must-refuse alternating.
    """
    out: list[tuple[str, EvalRow]] = []
    for p in paths:
        rows = load_rows([p])
        if limit is not None and limit < len(rows):
            groups: dict[tuple[bool, str], list[int]] = {}
            for i, r in enumerate(rows):
                groups.setdefault((r.answerable, r.language), []).append(i)
            by_state = [[g for k, g in groups.items() if k[0] is state] for state in (True, False)]
            ordered = [g for pair in zip_longest(*by_state) for g in pair if g is not None]
            taken = [i for turn in zip_longest(*ordered) for i in turn if i is not None][:max(limit, 0)]
            rows = [rows[i] for i in sorted(taken)]
        out.extend((p.stem, r) for r in rows)
    return out


def run_meta(settings: Settings, sets: list[str], judge: RagasJudge | None, label: str | None) -> dict[str, Any]:
    """What a run is: when, which commit, which settings and models; compared across runs by the report."""
    g = settings.generator
    return {
        "label": label or settings.retrieval.mode,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": git_commit(),
        "sets": sets,
        "settings": settings.model_dump(mode="json"),
        "models": {
            "embedder": settings.embedder.model_path or settings.embedder.backend,
            "generator": g.backend if g.backend == "extractive" else f"{g.backend}:{g.model_path or g.model}",
            "judge": judge.model if judge else None,
            "judge_url": judge.base_url if judge else None,
        },
        "judge_warning": judge.warning() if judge else None,
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
        "status": "running",
    }


@dataclass
class SourceIndex:
    """What the store holds per document: its language and its passages (the reference contexts of RAGAS)."""

    languages: dict[str, str] = field(default_factory=dict)
    passages: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_store(cls, store: Any) -> "SourceIndex":
        """Read every passage's doc id, language and text once; an empty index when the store cannot list them."""
        index = cls()
        try:
            if hasattr(store, "filter_payloads"):
                payloads = store.filter_payloads(fields=["content", "meta.doc_id", "meta.language"])
            else:
                payloads = [{"content": d.content, "meta": d.meta} for d in store.filter_documents()]
        except Exception as exc:  # noqa: BLE001 - the run goes on without the per-source figures
            logger.warning("could not read the store's documents for the source figures: %s", exc)
            return index
        for p in payloads:
            meta = p.get("meta") or {}
            index.add(str(meta.get("doc_id", "")), meta.get("language"), p.get("content"))
        return index

    def add(self, doc_id: str, language: object, content: object = None) -> None:
        if not doc_id:
            return
        if language and doc_id not in self.languages:
            self.languages[doc_id] = str(language)
        if isinstance(content, str) and content.strip():
            self.passages.setdefault(doc_id, []).append(content)

    def languages_of(self, doc_ids: Sequence[str]) -> list[str] | None:
        """The reference sources' languages, or None when one of them is unknown."""
        langs = [self.languages.get(d) for d in doc_ids]
        return sorted({lang for lang in langs if lang}) if langs and all(langs) else None


def source_fields(row: EvalRow, index: SourceIndex, cited: Sequence[str] = ()) -> dict[str, Any]:
    """The reference sources' languages and whether the question is asked in none of them (answerable rows), and
    the row's language pairing: `same` when the question is asked in its routine's language, `cross` when not.

    The routine is the row's reference source; a row without one (a must-refuse row nothing covers) is paired with
    the routines its answer cites (the closest routines, the contacts list); None when neither is known.
    """
    langs = index.languages_of(row.reference_sources) if row.reference_sources else None
    paired = langs if langs is not None else index.languages_of(list(dict.fromkeys(cited))) if cited else None
    return {
        "reference_languages": langs if row.answerable else None,
        "cross_language": None if langs is None or not row.answerable else row.language not in langs,
        "language_pairing": None if paired is None else "same" if row.language in paired else "cross",
    }


@contextmanager
def _no_progress(total: int) -> Iterator[Callable[[str, int], None]]:
    yield lambda _id, _errors: None


def evaluate_row(assistant: Answerer, set_name: str, row: EvalRow, judge: RagasJudge | None,
                 index: SourceIndex | None = None, ragas: NoLlmRagas | None = None) -> dict[str, Any]:
    """One question's record; an exception anywhere becomes the record's `error`, never the run's end.

    `index` gives the reference sources' languages and passages (for the cross-language split and the no-LLM
    RAGAS metrics); `ragas` scores those metrics.
    """
    index = index if index is not None else SourceIndex()
    record: dict[str, Any] = {
        "id": row.id, "set": set_name, "question": row.question, "language": row.language, "role": row.role,
        "answerable": row.answerable, "tags": row.tags, "reference_sources": row.reference_sources, "error": None,
    }
    started = time.perf_counter()
    try:
        history = [t.model_dump() for t in row.turns] or None
        answer, docs = assistant.answer_with_sources(row.question, row.role, history=history)
        chunk_ids = [d.meta.get("doc_id", "") for d in docs]
        for d in docs:
            index.add(str(d.meta.get("doc_id", "")), d.meta.get("language"))
        record.update(
            answer=answer.answer, refused=answer.refused, generator=answer.generator, fallback=answer.fallback,
            answer_language=answer.language, notices=answer.notices, cited=[c.doc_id for c in answer.citations],
            uncovered=list(getattr(answer, "uncovered", []) or []), retrieved=list(dict.fromkeys(chunk_ids)),
            **score_row(row, answer, chunk_ids), **source_fields(row, index, [c.doc_id for c in answer.citations]),
        )
        record["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        if ragas is not None and row.answerable:
            record["ragas"] = ragas.score(
                retrieved=[d.content or "" for d in docs],
                reference_passages=[c for d in row.reference_sources for c in index.passages.get(d, [])],
                answer=answer.answer if record["status"] == "answered" else None,
                reference_answer=row.reference_answer,
            )
        if judge is not None and row.answerable and record["status"] == "answered":
            contexts = [d.content or "" for d in docs] or [""]
            record["judge"], record["judge_errors"] = judge.score(
                question=row.question, answer=answer.answer, contexts=contexts, reference=row.reference_answer
            )
    except Exception as exc:  # noqa: BLE001 - one bad question is recorded and the run goes on
        logger.warning("question %s failed: %s", row.id, exc)
        record["error"] = f"{type(exc).__name__}: {exc}"
    return record


def run_eval(
    *,
    assistant: Answerer,
    rows: list[tuple[str, EvalRow]],
    run: Run,
    judge: RagasJudge | None = None,
    judge_rows: int | None = None,
    progress: Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    """Answer and score every row not yet done in `run`, appending each record as it finishes; the summary.

    A killed run is resumed by calling this again with the same `run`: finished questions are skipped.
    `judge_rows` caps how many answerable questions the judge scores (a small CPU judge takes minutes each).
    """
    done = run.done_ids()
    judged = sum(1 for r in run.results() if r.get("judge"))
    store = getattr(assistant, "document_store", None)
    index = SourceIndex.from_store(store) if store is not None else SourceIndex()
    ragas = NoLlmRagas()
    todo = [(s, r) for s, r in rows if r.id not in done]
    tick = progress(len(todo)) if progress else _no_progress(len(todo))
    errors = 0
    with tick as advance:
        for set_name, row in todo:
            use_judge = judge if judge is not None and (judge_rows is None or judged < judge_rows) else None
            record = evaluate_row(assistant, set_name, row, use_judge, index, ragas)
            judged += bool(record.get("judge"))
            errors += bool(record["error"])
            run.append(record)
            advance(row.id, errors)
    summary = summarize(run.results())
    run.meta.update(status="done", finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), summary=summary)
    if judge is not None:
        run.meta["judge_warning"] = judge.warning(summary["all"].get("judge_failure_share"))
    run.save_meta()
    return summary


def open_run(store: RunStore, resume: str | None, meta: dict[str, Any]) -> Run:
    """The run to resume, or a new one."""
    if resume is None:
        return store.create(meta)
    run = store.get(resume)
    run.meta.setdefault("resumed", []).append(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    run.meta["status"] = "running"
    run.save_meta()
    return run
