"""The quality gate: a run's no-LLM metrics against the committed thresholds in quality_gate.toml."""

import operator
import tomllib
from pathlib import Path
from typing import Any

from qa.store import ROOT

DEFAULT_THRESHOLDS = ROOT / "quality_gate.toml"


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> dict[str, dict[str, float]]:
    """{'min': {metric: value}, 'max': {metric: value}}; any other table is an error naming the allowed ones."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - {"min", "max", "group"}
    if unknown:
        msg = f"{path}: unknown table(s) {sorted(unknown)}; use [min] and [max] (and an optional group = 'all')."
        raise ValueError(msg)
    return {"min": dict(data.get("min", {})), "max": dict(data.get("max", {})), "group": data.get("group", "all")}


def check(summary: dict[str, Any], thresholds: dict[str, Any]) -> list[str]:
    """One line per metric outside its threshold (empty: the gate passes); a missing metric fails too."""
    group = thresholds.get("group", "all")
    s = summary.get(group, {})
    failures = []
    for bound, ok in (("min", operator.ge), ("max", operator.le)):
        for metric, limit in thresholds.get(bound, {}).items():
            value = s.get(metric)
            if value is None:
                failures.append(f"{metric}: not measured in this run (gate {bound} {limit})")
            elif not ok(value, limit):
                word = "below" if bound == "min" else "above"
                failures.append(f"{metric} = {value:.4g} is {word} the gate's {bound} {limit:g}")
    return failures
