"""The quality gate: a run's no-LLM metrics against the committed thresholds in quality_gate.toml.

The file's [min] and [max] tables hold the bounds of its `group` (default `all`); `[groups."NAME".min]` and
`[groups."NAME".max]` hold those of any other summary group: an eval set (`test`), a language group (`all/other`)
or a language pairing of question and routine (`all/same_language`, `all/cross_language`).
"""

import operator
import tomllib
from pathlib import Path
from typing import Any

from qa.store import ROOT

DEFAULT_THRESHOLDS = ROOT / "quality_gate.toml"
_BOUNDS = ("min", "max")


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> dict[str, Any]:
    """{'group': name, 'min': {metric: value}, 'max': {metric: value}, 'groups': {group: {'min': ..., 'max': ...}}};
    any other table is an error naming the allowed ones."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - {"min", "max", "group", "groups"}
    if unknown:
        msg = (f"{path}: unknown table(s) {sorted(unknown)}; use [min] and [max] (and an optional group = 'all'), "
               "and [groups.\"NAME\".min] / [groups.\"NAME\".max] for other groups.")
        raise ValueError(msg)
    groups: dict[str, dict[str, dict[str, float]]] = {}
    for name, bounds in dict(data.get("groups", {})).items():
        wrong = set(bounds) - set(_BOUNDS)
        if wrong:
            msg = f"{path}: groups.{name!r} has unknown table(s) {sorted(wrong)}; use min and max."
            raise ValueError(msg)
        groups[name] = {b: dict(bounds.get(b, {})) for b in _BOUNDS}
    return {"min": dict(data.get("min", {})), "max": dict(data.get("max", {})), "group": data.get("group", "all"),
            "groups": groups}


def check(summary: dict[str, Any], thresholds: dict[str, Any]) -> list[str]:
    """One line per metric outside its threshold (empty: the gate passes); a missing metric or group fails too.

    Lines for the file's main group name the metric alone; those of the other groups start with the group.
    """
    bounds = [(thresholds.get("group", "all"), {b: thresholds.get(b, {}) for b in _BOUNDS}, "")]
    bounds += [(name, limits, f"{name}: ") for name, limits in thresholds.get("groups", {}).items()]
    failures = []
    for group, limits, prefix in bounds:
        s = summary.get(group, {})
        for bound, ok in (("min", operator.ge), ("max", operator.le)):
            for metric, limit in limits.get(bound, {}).items():
                value = s.get(metric)
                if value is None:
                    failures.append(f"{prefix}{metric}: not measured in this run (gate {bound} {limit})")
                elif not ok(value, limit):
                    word = "below" if bound == "min" else "above"
                    failures.append(f"{prefix}{metric} = {value:.4g} is {word} the gate's {bound} {limit:g}")
    return failures
