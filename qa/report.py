"""The evaluation report: a Markdown table of every run and one PNG trend chart per metric (headless, Agg)."""

from pathlib import Path
from typing import Any

from qa.metrics import JUDGE_METRICS, LANGUAGE_GROUPS, PAIRING_GROUPS, SUMMARY_METRICS, is_subgroup, summarize
from qa.store import Run

NO_LLM = [m for m in SUMMARY_METRICS if m not in (*JUDGE_METRICS, "judge_failure_share")]
#: The per-language table of the report: answer states and the figures the targets name per language group.
LANGUAGE_TABLE = ("answered_share", "closest_share", "refused_share", "refusal_accuracy", "false_refusal_rate",
                  "hit@5", "hit@5_same_language", "hit@5_cross_language", "citation_precision", "key_facts",
                  "key_fact_first_line", "answer_lines_fact_median")


def _summary(run: Run) -> dict[str, Any]:
    # Summarised from the stored rows each time, so that runs stored before a metric existed get it where their
    # rows allow (the answer states of old runs come from `refused`), and a killed run's finished questions count.
    return summarize(run.results())


def _direction(metric: str) -> str:
    higher = SUMMARY_METRICS.get(metric, True)
    return "share" if higher is None else "higher is better" if higher else "lower is better"


def _fmt(v: object) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def chart(metric: str, runs: list[Run], out: Path) -> Path | None:
    """A line per eval set of `metric` over runs, oldest first; None when no run has the metric."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    summaries = [_summary(r) for r in runs]
    sets = sorted({s for summ in summaries for s in summ if not is_subgroup(s)})
    series = {s: [summ.get(s, {}).get(metric) for summ in summaries] for s in sets}
    if not any(v is not None for vals in series.values() for v in vals):
        return None
    labels = [f"{r.run_id[:8]} {r.run_id[9:13]}\n{r.meta.get('label', '')}" for r in runs]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(runs) + 2), 3.6))
    for s, vals in series.items():
        xs = [i for i, v in enumerate(vals) if v is not None]
        ax.plot(xs, [vals[i] for i in xs], marker="o", label=s, linewidth=2.5 if s == "all" else 1.2)
    ax.set_xticks(range(len(runs)), labels, fontsize=7)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{metric} ({_direction(metric)})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path = out / f"{metric.replace('@', '_at_')}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _group_tables(summaries: dict[str, dict[str, Any]], sets: list[str], title: str, intro: str,
                  groups: dict[str, str], column: str) -> list[str]:
    """Per eval set: a row per run and subgroup (`groups`: summary suffix -> label, under `column`) with the
    LANGUAGE_TABLE figures."""
    lines = ["", f"## {title}", "", intro]
    for s in sets:
        present = [(rid, label, summ[f"{s}/{suffix}"]) for rid, summ in summaries.items()
                   for suffix, label in groups.items() if f"{s}/{suffix}" in summ]
        if not present:
            continue
        lines += ["", f"### {s}", "", f"| run | {column} | rows | " + " | ".join(LANGUAGE_TABLE) + " |",
                  "|---|---|---|" + "---|" * len(LANGUAGE_TABLE)]
        lines += [f"| {rid} | {label} | {g['rows']} | " + " | ".join(_fmt(g.get(m)) for m in LANGUAGE_TABLE) + " |"
                  for rid, label, g in present]
    return lines


def _language_tables(summaries: dict[str, dict[str, Any]], sets: list[str]) -> list[str]:
    """Per eval set: a row per run and language group of the question, then per language pairing of question and
    routine, with the answer states, retrieval, citations and the answer's figures."""
    by_language = _group_tables(
        summaries, sets, "Per language group of the question",
        "Language groups: Swedish (sv), English (en), other languages (other). hit@5 same / cross language: the "
        "question is asked in one of its reference sources' languages, or in none of them.",
        {lg: lg for lg in LANGUAGE_GROUPS}, "language",
    )
    by_pairing = _group_tables(
        summaries, sets, "Question and routine in the same language, or languages differ",
        "The routine's language is its document's `language` in the store: the reference source's, or for a "
        "must-refuse row without one, that of the routines the answer cites (the closest ones, the contacts list). "
        "Rows where neither is known are in neither group.",
        {label: label.replace("_", " ") for label in PAIRING_GROUPS.values()}, "pairing",
    )
    return by_language + by_pairing


def write_report(runs: list[Run], out: Path, title: str = "Frontline Assist: evaluation runs") -> Path:
    """Write out/report.md with a table per eval set and a chart per metric; returns the Markdown path."""
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", "", f"{len(runs)} run(s), oldest first. Metrics without an LLM come first; "
             "RAGAS's no-LLM metrics (`ragas_*`) are in every run; its LLM metrics appear where a judge "
             "scored the run.", ""]
    lines += ["| run | label | date | commit | sets | generator | judge | status |", "|---" * 8 + "|"]
    for r in runs:
        m, models = r.meta, r.meta.get("models", {})
        names = ", ".join(Path(s).stem for s in m.get("sets", []))
        lines.append(f"| {r.run_id} | {m.get('label', '')} | {m.get('started', '')} | {m.get('commit', '')} | {names} "
                     "| "
                     f"{models.get('generator', '')} | {models.get('judge') or '–'} | {m.get('status', '')} |")
    warnings = [(r.run_id, r.meta["judge_warning"]) for r in runs if r.meta.get("judge_warning")]
    if warnings:
        lines += ["", "## Judge warnings", ""] + [f"- **{rid}**: {w}" for rid, w in warnings]
    summaries = {r.run_id: _summary(r) for r in runs}
    sets = sorted({s for summ in summaries.values() for s in summ if not is_subgroup(s)},
                  key=lambda s: (s == "all", s))
    for s in sets:
        present = [m for m in SUMMARY_METRICS
                   if any(summ.get(s, {}).get(m) is not None for summ in summaries.values())]
        lines += ["", f"## {s}", "", "| run | rows | errors | " + " | ".join(present) + " |",
                  "|---|---|---|" + "---|" * len(present)]
        for rid, summ in summaries.items():
            g = summ.get(s)
            if g:
                lines.append(f"| {rid} | {g['rows']} | {g['errors']} | " + " | ".join(_fmt(g.get(m)) for m in present)
                             + " |")
    lines += _language_tables(summaries, sets)
    judged = [(r, [x for x in r.results() if x.get("judge")]) for r in runs]
    for r, recs in judged:
        if recs:
            judge = r.meta.get("models", {}).get("judge")
            lines += ["", f"## Judgements of run {r.run_id} (judge {judge})", "",
                      "| question | metric | value | why not |", "|---|---|---|---|"]
            for x in recs:
                for metric, value in x["judge"].items():
                    why = x.get("judge_errors", {}).get(metric, "").replace("|", "/")[:160]
                    lines.append(f"| {x['id']} | {metric} | {_fmt(value)} | {why} |")
    lines += ["", "## Trends", ""]
    for metric in SUMMARY_METRICS:
        path = chart(metric, runs, out)
        if path:
            lines += [f"![{metric}]({path.name})", ""]
    md = out / "report.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md
