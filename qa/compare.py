"""Which questions got worse between two runs, metric by metric."""

from dataclasses import dataclass
from typing import Any

from qa.metrics import JUDGE_METRICS, K
from qa.store import Run

# Per-question scores where a drop is a regression (higher is better for each).
ROW_METRICS = (f"hit@{K}", "rr", f"recall@{K}", "citation_precision", "refusal_correct", "language_match", "support")
JUDGE_TOLERANCE = 0.1


@dataclass(frozen=True)
class Regression:
    id: str
    question: str
    metric: str
    before: float | str | None
    after: float | str | None


def _value(rec: dict[str, Any], metric: str) -> float | None:
    if metric in JUDGE_METRICS:
        return (rec.get("judge") or {}).get(metric)
    return rec.get(metric)


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
        for m in (*ROW_METRICS, *JUDGE_METRICS):
            x, y = _value(old, m), _value(rec, m)
            # The judge is noisy: only a clear drop counts.
            tol = JUDGE_TOLERANCE if m in JUDGE_METRICS else 1e-9
            if x is not None and y is not None and y < x - tol:
                out.append(Regression(rec["id"], rec["question"], m, x, y))
    return out
