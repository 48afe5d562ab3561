"""Which questions got worse between two runs, metric by metric, and which moved between answer states."""

from dataclasses import dataclass
from typing import Any

from qa.metrics import JUDGE_METRICS, RAGAS_NO_LLM, K, record_status
from qa.store import Run

# Per-question scores where a drop is a regression (higher is better for each).
ROW_METRICS = (f"hit@{K}", "rr", f"recall@{K}", "citation_precision", "refusal_correct", "key_facts",
               "key_fact_first_line", "language_match")
# The no-LLM RAGAS context metrics regress like the rest; string similarity moves with any rewording, so not it.
RAGAS_CONTEXT = ("ragas_context_precision", "ragas_context_recall")
JUDGE_TOLERANCE = 0.1


@dataclass(frozen=True)
class Regression:
    id: str
    question: str
    metric: str
    before: float | str | None
    after: float | str | None


@dataclass(frozen=True)
class StateChange:
    """A question whose answer state differs between two runs; `right` says whether run B's state is the one the
    row asks for (answered for an answerable row, closest or refused for a must-refuse row)."""

    id: str
    question: str
    answerable: bool
    before: str
    after: str

    @property
    def right(self) -> bool:
        return (self.after == "answered") == self.answerable

    @property
    def better(self) -> bool:
        """B is right where A was wrong (a move between closest and refused is neither better nor worse)."""
        return self.right and (self.before == "answered") != self.answerable


def _value(rec: dict[str, Any], metric: str) -> float | None:
    if metric in JUDGE_METRICS:
        return (rec.get("judge") or {}).get(metric)
    if metric in RAGAS_NO_LLM:
        return (rec.get("ragas") or {}).get(metric)
    return rec.get(metric)


def state_changes(a: Run, b: Run) -> list[StateChange]:
    """Questions answered without error in both runs whose state (answered / closest / refused) differs, in B's
    order; runs stored before the three states count a refusal as `refused`."""
    before = {r["id"]: r for r in a.results() if not r.get("error")}
    out = []
    for rec in b.results():
        old = before.get(rec["id"])
        if old is None or rec.get("error"):
            continue
        x, y = record_status(old), record_status(rec)
        if x != y:
            out.append(StateChange(rec["id"], rec["question"], bool(rec.get("answerable")), x, y))
    return out


def regressions(a: Run, b: Run) -> list[Regression]:
    """Questions scored in both runs whose score dropped from A to B, or that newly failed in B."""
    before = {r["id"]: r for r in a.results()}
    out = []
    for rec in b.results():
        old = before.get(rec["id"])
        if old is None or old.get("error"):
            continue
        if rec.get("error"):
            out.append(Regression(rec["id"], rec["question"], "error", None, rec["error"]))
            continue
        for m in (*ROW_METRICS, *RAGAS_CONTEXT, *JUDGE_METRICS):
            x, y = _value(old, m), _value(rec, m)
            # The judge is noisy: only a clear drop counts.
            tol = JUDGE_TOLERANCE if m in JUDGE_METRICS else 1e-9
            if x is not None and y is not None and y < x - tol:
                out.append(Regression(rec["id"], rec["question"], m, x, y))
    return out
