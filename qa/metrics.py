"""Per-question scores without an LLM, and their summary per eval set: what every run records and the gate checks."""

import re
import statistics
import unicodedata
from collections.abc import Iterable
from typing import Any

from assist.evaluation import (
    EvalRow,
    citation_precision,
    hit_at_k,
    language_match,
    mean,
    ranked_doc_ids,
    recall_at_k,
    reciprocal_rank,
    refusal_correct,
)
from assist.languages import NO_TRANSLATION_NOTICE, detect_language
from assist.schemas import Answer

K = 5
STATES = ("answered", "closest", "refused")
JUDGE_METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")
#: RAGAS's own metrics that need no LLM (qa.ragas_nollm), scored in every run.
RAGAS_NO_LLM = ("ragas_context_precision", "ragas_context_recall", "ragas_string_similarity")
# Summary keys, in report order; True: higher is better, False: lower is better, None: a share to watch.
SUMMARY_METRICS: dict[str, bool | None] = {
    f"hit@{K}": True, f"hit@{K}_same_language": True, f"hit@{K}_cross_language": True, "mrr": True,
    f"recall@{K}": True, "citation_precision": True, "refusal_accuracy": True, "false_refusal_rate": False,
    **{f"{s}_share": None for s in STATES}, "key_facts": True, "key_fact_first_line": True,
    "answer_lines_fact_median": False, "language_match": True, "language_match_translatable": True,
    **dict.fromkeys(RAGAS_NO_LLM, True), **dict.fromkeys(JUDGE_METRICS, True), "judge_failure_share": False,
}
#: Language groups reported within each eval set: Swedish, English, and the other languages together.
LANGUAGE_GROUPS = ("sv", "en", "other")
#: Pairing groups reported within each eval set: the question asked in its routine's language, or in another.
PAIRING_GROUPS = {"same": "same_language", "cross": "cross_language"}
_NO_TRANSLATION = set(NO_TRANSLATION_NOTICE.values())

# Key facts: phone numbers (08-123 40 20, 010-456 67 00), clock times (07.00, 21:30) and other numbers
# (15 minuter, 58 750 kronor, 1,5–2 liter), each normalised so that the same fact written alike matches.
_PHONE = re.compile(r"(?<![\d-])0\d{1,3}-\d{2,3}(?:[ \u00a0]\d{2,3}){1,3}(?![\d-])")
_TIME = re.compile(r"(?<![\d.,:])([01]?\d|2[0-3])[.:]([0-5]\d)(?![\d.,:]?\d)")
_CITATION = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:[ \u00a0]\d{3})+(?![\d.,]?\d)|\d+(?:[.,]\d+)?")


def _ascii_digits(text: str) -> str:
    """Arabic-Indic, Persian and other decimal digits as 0-9, so a fact reads the same in every script."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in text)


def key_facts(text: str) -> set[str]:
    """The phone numbers, clock times and other numbers in a text, normalised ('tel:081234020', '7:00', '1.5')."""
    text = _ascii_digits(text)
    facts: set[str] = set()

    def take(pattern: re.Pattern[str], norm: Any) -> None:
        nonlocal text
        for m in pattern.finditer(text):
            facts.add(norm(m))
        text = pattern.sub(" ", text)

    take(_PHONE, lambda m: "tel:" + re.sub(r"\D", "", m.group()))
    take(_TIME, lambda m: f"{int(m.group(1))}:{m.group(2)}")
    take(_NUMBER, lambda m: _number(m.group()))
    return facts


def _number(text: str) -> str:
    """'58 750' -> '58750', '1,5' -> '1.5', '38,0' -> '38', '08' -> '8'."""
    whole, _, part = re.sub(r"[ \u00a0]", "", text).replace(",", ".").partition(".")
    part = part.rstrip("0")
    return f"{int(whole)}.{part}" if part else str(int(whole))


def key_facts_quoted(reference: str, answer: str, status: str) -> float | None:
    """Share of the reference answer's key facts present in the answer; an answer that is not `answered` quotes
    none (a closest routine's numbers are not the answer). None when the reference holds no key fact."""
    wanted = key_facts(reference)
    if not wanted:
        return None
    # Citation markers ([1], [2, 3]) are not facts.
    got = key_facts(_CITATION.sub(" ", answer)) if status == "answered" else set()
    return len(wanted & got) / len(wanted)


def first_line_has_key_fact(reference: str, answer: str, status: str) -> float | None:
    """1.0 when the answer's first line holds one of the reference answer's key facts, else 0.0; None when the
    reference holds none or the answer is not `answered` (the answer first: the number, the contact, on line one)."""
    wanted = key_facts(reference)
    if not wanted or status != "answered":
        return None
    first = next((line for line in answer.splitlines() if line.strip()), "")
    return float(bool(wanted & key_facts(_CITATION.sub(" ", first))))


def answer_lines(answer: str, status: str) -> int | None:
    """How many lines an `answered` answer has (blank lines not counted); None for the other states."""
    return sum(1 for line in answer.splitlines() if line.strip()) if status == "answered" else None


def answer_status(answer: Answer) -> str:
    """The Answer's state; an Answer from before the three states has only `refused`."""
    status = getattr(answer, "status", None)
    return str(status) if status in STATES else ("refused" if answer.refused else "answered")


def record_status(rec: dict[str, Any]) -> str:
    """A stored record's state; records stored before the three states fall back to `refused`."""
    status = rec.get("status")
    return str(status) if status in STATES else ("refused" if rec.get("refused") else "answered")


def language_group(language: str) -> str:
    return language if language in ("sv", "en") else "other"


def score_row(row: EvalRow, answer: Answer, chunk_doc_ids: list[str]) -> dict[str, Any]:
    """Scores of one answered question; metrics that do not apply to the row are None."""
    ranked = ranked_doc_ids(chunk_doc_ids)
    relevant = set(row.reference_sources)
    detected = detect_language(answer.answer, default=answer.language)
    # The extractive generator quotes the routines in their own language by design and says so in a notice:
    # such an answer cannot match a Somali question, so it is counted apart.
    untranslated = any(n in _NO_TRANSLATION for n in answer.notices)
    status = answer_status(answer)
    answered = status == "answered"
    return {
        "status": status,
        f"hit@{K}": hit_at_k(ranked, relevant, K) if row.answerable else None,
        "rr": reciprocal_rank(ranked, relevant) if row.answerable else None,
        f"recall@{K}": recall_at_k(ranked, relevant, K) if row.answerable else None,
        "citation_precision": citation_precision([c.doc_id for c in answer.citations], relevant)
        if row.answerable and answered else None,
        "refusal_correct": refusal_correct(not answered, row.answerable),
        "key_facts": key_facts_quoted(row.reference_answer, answer.answer, status) if row.answerable else None,
        "key_fact_first_line": first_line_has_key_fact(row.reference_answer, answer.answer, status)
        if row.answerable else None,
        "answer_lines": answer_lines(answer.answer, status),
        # A fact question: its reference answer states a number (a phone number, a time, an amount, a limit).
        "fact_question": row.answerable and bool(key_facts(row.reference_answer)),
        "detected_language": detected,
        "language_match": language_match(detected, row.language),
        "untranslated": untranslated,
    }


def pairing(record: dict[str, Any]) -> str | None:
    """'same' when the question is asked in its routine's language, 'cross' when in another, None when unknown.

    The routine is the row's reference source (`cross_language`, set by the runner from the store's `language` of
    each document); for a row without one (a must-refuse row), the routines the answer cites or is closest to
    (`language_pairing`). A record stored before either was recorded has none.
    """
    stored = record.get("language_pairing")
    if stored in PAIRING_GROUPS:
        return str(stored)
    cross = record.get("cross_language")
    return None if cross is None else "cross" if cross else "same"


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over a run's results: one group per eval set and `all`, and within each a group per language group
    of the question (`dev/sv`, `dev/en`, `dev/other`, ..., `all/other`) and per language pairing of question and
    routine (`dev/same_language`, `dev/cross_language`, ...)."""
    groups: dict[str, list[dict[str, Any]]] = {"all": []}
    for r in results:
        groups["all"].append(r)
        groups.setdefault(r.get("set", "?"), []).append(r)
    by_language = {
        f"{name}/{lg}": [r for r in rs if language_group(str(r.get("language", ""))) == lg]
        for name, rs in groups.items() for lg in LANGUAGE_GROUPS
    }
    by_pairing = {
        f"{name}/{label}": [r for r in rs if pairing(r) == key]
        for name, rs in groups.items() for key, label in PAIRING_GROUPS.items()
    }
    return {name: summarize_group(rs) for name, rs in (groups | by_language | by_pairing).items() if rs}


def is_subgroup(name: str) -> bool:
    """True for a summary group within an eval set: a language group ('test/sv') or a pairing ('test/same_language')."""
    return "/" in name


def is_language_group(name: str) -> bool:
    """True for a language group of the question within an eval set, such as 'test/sv'."""
    return "/" in name and name.rpartition("/")[2] in LANGUAGE_GROUPS


def is_pairing_group(name: str) -> bool:
    """True for a language-pairing group such as 'test/cross_language'."""
    return name.rpartition("/")[2] in PAIRING_GROUPS.values()


def _share(n: int, of: int) -> float | None:
    return round(n / of, 4) if of else None


def _median(values: Iterable[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


def _hit_where(rows: Iterable[dict[str, Any]], cross: bool) -> float | None:
    return mean(r[f"hit@{K}"] for r in rows if r.get("cross_language") is cross)


def summarize_group(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over results; questions that failed are counted in `errors` and left out of every mean."""
    ok = [r for r in results if not r.get("error")]
    answerable = [r for r in ok if r["answerable"]]
    must_refuse = [r for r in ok if not r["answerable"]]
    states = [record_status(r) for r in ok]
    s: dict[str, Any] = {
        "rows": len(results), "errors": len(results) - len(ok), "answerable": len(answerable),
        "must_refuse": len(must_refuse),
        **{f"{st}_rows": states.count(st) for st in STATES},
        **{f"{st}_share": _share(states.count(st), len(ok)) for st in STATES},
        f"hit@{K}": mean(r[f"hit@{K}"] for r in answerable),
        f"hit@{K}_same_language": _hit_where(answerable, cross=False),
        f"hit@{K}_cross_language": _hit_where(answerable, cross=True),
        "cross_language_rows": sum(r.get("cross_language") is True for r in answerable),
        "mrr": mean(r["rr"] for r in answerable),
        f"recall@{K}": mean(r[f"recall@{K}"] for r in answerable),
        "citation_precision": mean(r["citation_precision"] for r in answerable),
        # A must-refuse row is right when it is not `answered` (closest or refused); an answerable row that is not
        # `answered` is a false refusal.
        "refusal_accuracy": mean(float(record_status(r) != "answered") for r in must_refuse),
        "false_refusal_rate": mean(float(record_status(r) != "answered") for r in answerable),
        "key_facts": mean(r.get("key_facts") for r in answerable),
        "key_facts_rows": sum(r.get("key_facts") is not None for r in answerable),
        "key_fact_first_line": mean(r.get("key_fact_first_line") for r in answerable),
        "key_fact_first_line_rows": sum(r.get("key_fact_first_line") is not None for r in answerable),
        "answer_lines_fact_median": _median(r.get("answer_lines") for r in answerable if r.get("fact_question")),
        "language_match": mean(r["language_match"] for r in ok),
        "language_match_translatable": mean(r["language_match"] for r in ok if not r["untranslated"]),
        "untranslated_rows": sum(bool(r["untranslated"]) for r in ok),
        **{m: mean((r.get("ragas") or {}).get(m) for r in answerable) for m in RAGAS_NO_LLM},
    }
    judged = [r for r in ok if r.get("judge")]
    if judged:
        for m in JUDGE_METRICS:
            s[m] = mean(r["judge"].get(m) for r in judged)
        attempts = [v for r in judged for v in r["judge"].values()]
        failures = sum(len(r.get("judge_errors", {})) for r in judged)
        s["judged_rows"] = len(judged)
        s["judge_failure_share"] = round(failures / len(attempts), 4) if attempts else None
    return s
