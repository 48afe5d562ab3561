"""`assist eval`: run the eval sets through the real pipeline, store the run, report trends, compare runs, gate.

The root CLI mounts this lazily (`qa.cli.main(args)`); `python -m qa` runs it directly.
"""

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from assist.settings import Settings, settings_for


class _RunByDefault(TyperGroup):
    """`assist eval dev test` means `assist eval run dev test`: anything that is not a subcommand goes to run."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_RunByDefault, add_completion=False,
    help="Measure answer quality on eval_sets (answer states, refusals, retrieval, citations, key facts and whether "
         "the first line holds one, answer length, language, RAGAS's no-LLM metrics; its LLM metrics with a judge), "
         "per language group and per language pairing of question and routine; store every run, and report "
         "trends, regressions, state changes and the quality gate.",
)

StoreOpt = Annotated[Path | None, typer.Option("--store", help="Embedded store folder (ASSIST_QDRANT__PATH).")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Qdrant server URL instead of the embedded store.")]
RunsOpt = Annotated[Path | None, typer.Option("--runs", help="Run store folder; default <data_dir>/eval.")]


def _run_store(runs: Path | None) -> Any:
    from qa.store import RunStore  # noqa: PLC0415

    return RunStore(runs or Settings().data_dir / "eval")


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.secho(f"Error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=code)


def _progress(quiet: bool) -> Callable[[int], AbstractContextManager[Callable[[str, int], None]]]:
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: PLC0415

    @contextmanager
    def bar(total: int) -> Iterator[Callable[[str, int], None]]:
        with Progress(
            TextColumn("[bold]Evaluating"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[current]}"),
            TextColumn("[red]{task.fields[errors]} errors"), TimeRemainingColumn(),
            console=Console(stderr=True), disable=quiet,
        ) as progress:
            task = progress.add_task("eval", total=total, current="", errors=0)
            yield lambda row_id, errors: progress.update(task, advance=1, current=row_id, errors=errors)

    return bar


def _comparable(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings that decide the answers (where the store lives does not)."""
    return {k: v for k, v in settings.items() if k not in ("data_dir", "qdrant")}


@eval_app.command("run")
def run_command(
    sets: Annotated[list[str] | None, typer.Argument(help="Eval sets: names (dev, test) or JSONL files; default all.")]
    = None,
    judge_url: Annotated[str | None, typer.Option(help="OpenAI-compatible judge endpoint, e.g. http://gpu:8000/v1.")]
    = None,
    judge_model: Annotated[str, typer.Option(help="Model name the judge endpoint serves.")] = "default",
    judge_key: Annotated[str, typer.Option(envvar="ASSIST_JUDGE_API_KEY", help="Judge API key.")] = "none",
    judge_rows: Annotated[int | None, typer.Option(help="Judge at most this many answered questions.")] = None,
    judge_metrics: Annotated[str | None, typer.Option(help="Comma list; default faithfulness, answer_relevancy, "
                                                           "context_precision, context_recall.")] = None,
    judge_retries: Annotated[int, typer.Option(help="Re-asks of an unparseable judgement.")] = 1,
    label: Annotated[str | None, typer.Option(help="Name of the run in reports; default the retrieval mode.")] = None,
    resume: Annotated[str | None, typer.Option(help="Continue run RUN_ID ('latest' works) where it stopped.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N rows of each set (smoke runs).")] = None,
    gate: Annotated[Path | None, typer.Option(help="After the run, check it against this thresholds file.")] = None,
    store: StoreOpt = None,
    url: UrlOpt = None,
    runs: RunsOpt = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run id and summary as one JSON object.")] = False,
) -> None:
    """Answer every row with the real pipeline and score it; each question is stored as it finishes."""
    from assist.errors import AssistError  # noqa: PLC0415
    from assist.pipeline import Assistant  # noqa: PLC0415
    from qa.runner import load_sets, open_run, run_eval, run_meta, set_paths  # noqa: PLC0415

    settings = settings_for(store, url)
    run_store = _run_store(runs)
    try:
        if resume:
            previous = run_store.get(resume)
            if _comparable(previous.meta["settings"]) != _comparable(settings.model_dump(mode="json")):
                _fail(f"Run {previous.run_id} was made with other settings; resume it with the same ASSIST_* "
                      "settings, or start a new run.")
            sets = list(previous.meta["sets"])
            limit = previous.meta.get("limit")
        paths = set_paths(sets or [])
        rows = load_sets(paths, limit)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    judge = None
    if judge_url:
        from qa.judge import RagasJudge  # noqa: PLC0415

        metrics = tuple(m.strip() for m in judge_metrics.split(",")) if judge_metrics else None
        try:
            judge = RagasJudge(base_url=judge_url, model=judge_model, api_key=judge_key, metrics=metrics,
                               max_retries=judge_retries)
        except ValueError as exc:
            _fail(str(exc))
        if warning := judge.warning():
            typer.secho(f"Note: {warning}", fg=typer.colors.YELLOW, err=True)
    meta = run_meta(settings, [str(p) for p in paths], judge, label)
    meta["limit"] = limit
    run = open_run(run_store, resume and previous.run_id, meta)
    typer.echo(f"Run {run.run_id} ({len(rows)} questions, {len(run.done_ids())} already done) -> {run.path}", err=True)
    try:
        assistant = Assistant(settings)
        try:
            summary = run_eval(assistant=assistant, rows=rows, run=run, judge=judge, judge_rows=judge_rows,
                               progress=_progress(quiet or as_json))
        finally:
            assistant.close()
            if judge is not None:
                judge.close()
    except AssistError as exc:
        _fail(f"{exc} (resume with --resume {run.run_id})")
    if as_json:
        typer.echo(json.dumps({"run_id": run.run_id, "summary": summary,
                               "judge_warning": run.meta.get("judge_warning")}, ensure_ascii=False))
    else:
        _print_summary(run.run_id, summary, run.meta.get("judge_warning"))
    if gate is not None:
        _gate(run.run_id, summary, gate)


def _print_summary(run_id: str, summary: dict[str, Any], warning: str | None) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from qa.metrics import SUMMARY_METRICS, is_language_group, is_pairing_group, is_subgroup  # noqa: PLC0415

    console = Console()
    sets = [g for g in summary if not is_subgroup(g)]
    keys = ["rows", "errors", "answerable", "must_refuse", "answered_rows", "closest_rows", "refused_rows",
            *SUMMARY_METRICS, "cross_language_rows", "key_facts_rows", "key_fact_first_line_rows",
            "untranslated_rows", "judged_rows"]
    console.print(_table(Table(title=f"Run {run_id}"), summary, sets, keys))
    by_language = [g for g in summary if is_language_group(g)]
    if by_language:
        console.print(_table(Table(title="Per language group of the question"), summary, by_language,
                             LANGUAGE_KEYS))
    by_pairing = [g for g in summary if is_pairing_group(g)]
    if by_pairing:
        console.print(_table(Table(title="Question and routine in the same language, or languages differ"), summary,
                             by_pairing, LANGUAGE_KEYS))
    if warning:
        console.print(f"[yellow]Judge: {warning}[/yellow]")


#: What the per-language table shows: the answer states and the figures the targets name per language.
LANGUAGE_KEYS = ("rows", "answered_share", "closest_share", "refused_share", "refusal_accuracy",
                 "false_refusal_rate", "hit@5", "hit@5_same_language", "hit@5_cross_language", "citation_precision",
                 "key_facts", "key_fact_first_line", "answer_lines_fact_median")


def _table(table: Any, summary: dict[str, Any], groups: list[str], keys: Sequence[str]) -> Any:
    table.add_column("metric")
    for g in groups:
        table.add_column(g, justify="right")
    for k in keys:
        vals = [summary[g].get(k) for g in groups]
        if any(v is not None for v in vals):
            table.add_row(k, *("–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v) for v in vals))
    return table


def _gate(run_id: str, summary: dict[str, Any], thresholds_path: Path) -> None:
    from qa.gate import check, load_thresholds  # noqa: PLC0415

    failures = check(summary, load_thresholds(thresholds_path))
    if failures:
        for f in failures:
            typer.secho(f"Gate failed: {f}", fg=typer.colors.RED, err=True)
        typer.secho(f"Quality gate failed for run {run_id} ({len(failures)} metric(s)).", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1)
    typer.echo(f"Quality gate passed for run {run_id} ({thresholds_path}).")


@eval_app.command("gate")
def gate_command(
    run_id: Annotated[str, typer.Argument(help="The run to check; default the latest.")] = "latest",
    thresholds: Annotated[Path | None, typer.Option(help="Thresholds file; default quality_gate.toml.")] = None,
    runs: RunsOpt = None,
) -> None:
    """Exit non-zero, naming each metric, when a run's no-LLM metrics fall outside the committed thresholds."""
    from qa.gate import DEFAULT_THRESHOLDS  # noqa: PLC0415
    from qa.metrics import summarize  # noqa: PLC0415

    try:
        run = _run_store(runs).get(run_id)
    except FileNotFoundError as exc:
        _fail(str(exc))
    _gate(run.run_id, summarize(run.results()), thresholds or DEFAULT_THRESHOLDS)


@eval_app.command("report")
def report_command(
    run_ids: Annotated[list[str] | None, typer.Argument(help="Runs to include; default all.")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for report.md and the PNG charts; default "
                                                  "<runs>/report.")] = None,
    runs: RunsOpt = None,
) -> None:
    """Write a Markdown report with a trend chart (PNG) per metric over the runs."""
    from qa.report import write_report  # noqa: PLC0415

    run_store = _run_store(runs)
    try:
        selected = [run_store.get(i) for i in run_ids] if run_ids else run_store.runs()
    except FileNotFoundError as exc:
        _fail(str(exc))
    if not selected:
        _fail(f"No runs in {run_store.root}: run `assist eval` first.")
    md = write_report(selected, out or run_store.root / "report")
    typer.echo(f"Wrote {md} ({len(selected)} runs).")


@eval_app.command("compare")
def compare_command(
    a: Annotated[str, typer.Argument(help="The earlier run ('previous' works).")],
    b: Annotated[str, typer.Argument(help="The later run ('latest' works).")],
    runs: RunsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print regressions and state changes as JSON.")] = False,
) -> None:
    """List the questions that got worse from run A to run B, metric by metric, and those that moved between the
    answer states (answered, closest, refused)."""
    from dataclasses import asdict  # noqa: PLC0415

    from qa.compare import regressions, state_changes  # noqa: PLC0415

    run_store = _run_store(runs)
    try:
        ra, rb = run_store.get(a), run_store.get(b)
    except FileNotFoundError as exc:
        _fail(str(exc))
    found = regressions(ra, rb)
    moved = state_changes(ra, rb)
    if as_json:
        typer.echo(json.dumps({"regressions": [asdict(r) for r in found],
                               "state_changes": [{**asdict(m), "right": m.right, "better": m.better} for m in moved]},
                              ensure_ascii=False))
        return
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    console = Console()
    if not found:
        console.print(f"No question got worse from {ra.run_id} to {rb.run_id}.")
    else:
        table = Table(title=f"Worse in {rb.run_id} than in {ra.run_id}: {len({r.id for r in found})} question(s)")
        for col in ("id", "question", "metric", "before", "after"):
            table.add_column(col)
        for r in found:
            table.add_row(r.id, r.question[:70], r.metric, _cell(r.before), _cell(r.after))
        console.print(table)
    if not moved:
        console.print(f"No question moved between answered, closest and refused from {ra.run_id} to {rb.run_id}.")
        return
    better = sum(m.better for m in moved)
    worse = sum(not m.right for m in moved)
    console.print(f"Moved between answer states: {len(moved)} question(s), {better} now right, {worse} now wrong",
                  soft_wrap=True)
    table = Table()
    for col in ("id", "question", "row", "before", "after", ""):
        table.add_column(col)
    for m in moved:
        verdict = "better" if m.better else "worse" if not m.right else ""
        table.add_row(m.id, m.question[:60], "answerable" if m.answerable else "must refuse", m.before, m.after,
                      verdict)
    console.print(table)


def _cell(v: object) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)[:60]


def main(args: Sequence[str] | None = None, prog_name: str = "assist eval") -> None:
    """Run the eval app with these arguments (the root CLI passes what follows `assist eval`)."""
    typer.main.get_command(eval_app).main(args=list(args) if args is not None else None, prog_name=prog_name)


if __name__ == "__main__":
    main()
