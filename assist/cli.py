"""The `assist` command: the one composition root; each surface's modules are imported inside its command."""

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from assist.errors import AssistError
from assist.schemas import Answer
from assist.settings import settings_for

#: Plain help, as click writes it: typer's rich panels print every flag as taking a value (`--json <bool>`).
PLAIN_HELP = None

app = typer.Typer(
    help="Frontline Assist: answers staff questions from the city's own routines, with sources.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=PLAIN_HELP,
    context_settings={"max_content_width": 120},  # each command's summary whole in the list, not cut at 80 columns
)

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Folder of the embedded store (default data/qdrant; ASSIST_QDRANT__PATH)."),
]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Qdrant server URL instead of the embedded store.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")]


def _fail(exc: Exception, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"error": str(exc), "type": type(exc).__name__}, ensure_ascii=False))
    else:
        typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Folders or files; each first-level folder is a collection.")],
    collection: Annotated[str | None, typer.Option(help="Put everything in this collection.")] = None,
    store: StoreOpt = None,
    url: UrlOpt = None,
    as_json: JsonOpt = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove documents whose files are gone from these folders.")
    ] = False,
    max_file_mb: Annotated[float, typer.Option("--max-file-mb", help="Refuse files larger than this many MB.")] = 100.0,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Build the store afresh instead of updating it (recovers a damaged one).")
    ] = False,
) -> None:
    """Ingest documents into the store; unchanged files are skipped, unreadable ones reported (exit 1).

    A running `assist serve` keeps answering meanwhile and switches to the new content when the ingest ends;
    a second ingest on the same store is refused (exit 2).
    """
    from ingest.cli import run_ingest  # noqa: PLC0415

    code = run_ingest(paths, collection, store, url, as_json, prune, max_file_mb, rebuild)
    if code:
        raise typer.Exit(code=code)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in any language.")],
    role: Annotated[str, typer.Option(help="Who is asking: a role of the roles file (ASSIST_ROLES_FILE).")],
    language: Annotated[str | None, typer.Option(help="Answer language (ISO 639-1); default the question's.")] = None,
    store: StoreOpt = None,
    url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from the routines the role may read, with numbered sources."""
    from assist.pipeline import Assistant  # noqa: PLC0415

    settings = settings_for(store, url)
    try:
        assistant = Assistant(settings)
    except AssistError as exc:
        _fail(exc, as_json)
    try:
        answer = assistant.ask(question, role=role, language=language)
    except AssistError as exc:
        _fail(exc, as_json)
    finally:
        assistant.close()  # releases the store (and removes a private copy of it)
    if assistant.incomplete_roles:
        # This role is answered; others are not until their collections are ingested: say so where it is seen.
        warning = assistant.roles.missing_message(assistant.incomplete_roles, assistant.collections)
        typer.secho(f"Warning: {warning}", fg=typer.colors.YELLOW, err=True)
    if as_json:
        typer.echo(answer.model_dump_json())
        return
    _print_answer(answer)


def _print_answer(answer: Answer) -> None:
    """The answer for a person: a closest answer is stated as such first, its text indented as a quotation."""
    from assist.states import closest_heading, closest_preamble, readable_quote  # noqa: PLC0415

    closest = answer.status == "closest"
    if closest:
        for line in closest_preamble(answer):
            typer.secho(line, fg=typer.colors.YELLOW, bold=True)
        typer.echo("\n" + "\n".join(f"  | {line}" for line in answer.answer.strip().splitlines()))
    elif answer.status == "refused":
        typer.secho(answer.answer, fg=typer.colors.YELLOW)
    else:
        typer.echo(answer.answer)
    for note in answer.notices:
        typer.secho(f"Note: {note}", fg=typer.colors.YELLOW)
    if answer.citations:
        typer.echo(f"\n{closest_heading(answer)}:" if closest else "\nSources:")
        for c in answer.citations:
            where = f", page {c.page}" if c.page else ""
            section = f" ({c.section})" if c.section else ""
            typer.echo(f"  [{c.n}] {c.title}{where}{section}: {c.source}")
            # Table rows come one cell per line, so that a row keeps its column headers legibly.
            quote = readable_quote(c.quote).splitlines() or [""]
            quote[0] = f"\u201c{quote[0]}"
            quote[-1] = f"{quote[-1]}\u201d"
            for line in quote:
                typer.echo(f"      {line}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1; ASSIST_SERVE__HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000; ASSIST_SERVE__PORT).")] = None,
    store: StoreOpt = None,
    url: UrlOpt = None,
    workers: Annotated[int | None, typer.Option(
        help="Processes answering on the port, each with its own models (default: the usable CPUs, one for an "
             "in-process llama.cpp model; ASSIST_SERVE__WORKERS).")] = None,
) -> None:
    """Start the HTTP service: the phone page, the JSON and OpenAI-compatible APIs, health and metrics."""
    from serving.cli import serve as run_service  # noqa: PLC0415

    run_service(host=host, port=port, settings=settings_for(store, url), workers=workers)


@app.command()
def doctor(store: StoreOpt = None, url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Check this machine: Python, CPU, models, the store (readable, right embedder, not damaged), the roles file, LLM
    endpoint, disk.

    Each check prints ok, warn or fail with what to fix; exit 1 when any fails.
    """
    from assist.doctor import render, report, run_checks  # noqa: PLC0415

    checks = run_checks(settings_for(store, url))
    if as_json:
        typer.echo(json.dumps(report(checks), ensure_ascii=False))
    else:
        colours = {"ok": typer.colors.GREEN, "warn": typer.colors.YELLOW, "fail": typer.colors.RED}
        for status, line in render(checks):
            typer.secho(line, fg=colours.get(status))
    if not report(checks)["ok"]:
        raise typer.Exit(code=1)


token_app = typer.Typer(help="Access tokens for the HTTP service.", no_args_is_help=True, rich_markup_mode=PLAIN_HELP)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(role: Annotated[str, typer.Option(help="The token's role: any role of the roles file.")]) -> None:
    """Create a token for ROLE and print it once (only its hash is kept)."""
    from serving.cli import token_create as create  # noqa: PLC0415

    create(role)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="The id printed when the token was made.")]) -> None:
    """Revoke a token by its id."""
    from serving.cli import token_revoke as revoke  # noqa: PLC0415

    revoke(token_id)


db_app = typer.Typer(
    help="The service's database (tokens, feedback, audit log).", no_args_is_help=True, rich_markup_mode=PLAIN_HELP
)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database (ASSIST_DATABASE__URL, default SQLite under the data dir) to the current schema."""
    from serving.cli import db_upgrade as upgrade  # noqa: PLC0415

    upgrade()


@app.command()
def tui(
    url: Annotated[
        str | None,
        typer.Option("--url", help="A running `assist serve`, e.g. http://localhost:8000; default in-process."),
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="ASSIST_TOKEN", help="Bearer token for --url; it decides the role.")
    ] = None,
    role: Annotated[
        str | None, typer.Option(help="Who is asking (in-process): a staff role of the roles file; default the first.")
    ] = None,
    store: StoreOpt = None,
    language: Annotated[str | None, typer.Option(help="Answer language (ISO 639-1); default the question's.")] = None,
) -> None:
    """Keyboard-driven chat in the terminal: streamed answers, a sources pane, history and feedback keys."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from tui.cli import run_tui  # noqa: PLC0415

    try:
        run_tui(url=url, token=token, role=role, store=store, language=language)
    except (AssistError, ValueError) as exc:
        _fail(exc, as_json=False)


@app.command(
    name="eval",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def eval_(ctx: typer.Context) -> None:
    """Measure answer quality on eval_sets (retrieval, citations, refusals, RAGAS); report, compare, gate."""
    from qa.cli import eval_app  # noqa: PLC0415
    from qa.cli import main as eval_main  # noqa: PLC0415

    eval_app.rich_markup_mode = PLAIN_HELP  # the root decides how every command's help reads
    eval_main(ctx.args, prog_name="assist eval")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def docs(ctx: typer.Context) -> None:
    """The routine inventory per collection: metadata, replacements, review dates, ingest status (--json)."""
    from owners.cli import docs_app  # noqa: PLC0415
    from owners.cli import main as docs_main  # noqa: PLC0415

    docs_app.rich_markup_mode = PLAIN_HELP
    docs_main(ctx.args, prog_name="assist docs")


@app.command()
def gaps(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array of topics.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the topics as CSV.")] = False,
    collection: Annotated[list[str] | None, typer.Option(help="Only this collection; repeatable.")] = None,
    include_handled: Annotated[bool, typer.Option("--handled", help="Include topics marked handled.")] = False,
    threshold: Annotated[float, typer.Option(help="Cosine distance under which questions share a topic.")] = 0.12,
    mark_handled: Annotated[str | None, typer.Option(help="Mark the topic with this key handled.")] = None,
) -> None:
    """Knowledge gaps: questions the routines did not answer (refused, closest, rated down), grouped by topic."""
    from owners.gaps import run_gaps  # noqa: PLC0415

    code = run_gaps(as_json=as_json, as_csv=as_csv, collection=collection, include_handled=include_handled,
                    threshold=threshold, mark_handled=mark_handled, settings=settings_for())
    if code:
        raise typer.Exit(code=code)


transparency_app = typer.Typer(
    help="The transparency record (Algorithmic Transparency Standard v0.3.1), and which eval run it publishes.",
    rich_markup_mode=PLAIN_HELP,
)
app.add_typer(transparency_app, name="transparency")


@transparency_app.callback(invoke_without_command=True)
def transparency(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for transparency.yaml and transparency.md.")] = None,
    store: StoreOpt = None,
) -> None:
    """Write the transparency record as YAML and Markdown (--out DIR); `runs`, `publish RUN_ID` and `show` choose
    the eval run whose figures it (and /transparency) publishes.
    """
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        typer.echo(ctx.get_help())
        typer.secho("Error: give --out DIR to write the record, or a command (runs, publish, show).",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)
    from owners.transparency import run_transparency  # noqa: PLC0415

    code = run_transparency(out=out, settings=settings_for(store))
    if code:
        raise typer.Exit(code=code)


@transparency_app.command("runs")
def transparency_runs() -> None:
    """List the finished eval runs (id, date, sets, questions), marking the published one."""
    from owners.transparency import run_runs  # noqa: PLC0415

    raise typer.Exit(code=run_runs(settings=settings_for()))


@transparency_app.command("publish")
def transparency_publish(
    run_id: Annotated[str, typer.Argument(help="The eval run to publish ('latest': the newest finished run).")],
) -> None:
    """Publish this eval run's figures on /transparency; later runs change nothing until one is published."""
    from owners.transparency import run_publish  # noqa: PLC0415

    raise typer.Exit(code=run_publish(run_id, settings=settings_for()))


@transparency_app.command("unpublish")
def transparency_unpublish() -> None:
    """Publish no eval run's figures (the record says none is published)."""
    from owners.transparency import run_unpublish  # noqa: PLC0415

    raise typer.Exit(code=run_unpublish(settings=settings_for()))


@transparency_app.command("show")
def transparency_show() -> None:
    """Show which eval run is published and the performance text the record shows for it."""
    from owners.transparency import run_show  # noqa: PLC0415

    raise typer.Exit(code=run_show(settings=settings_for()))


@app.command()
def bench(
    quick: Annotated[bool, typer.Option(help="Shorter runs (about ten minutes on 2 cores).")] = False,
    only: Annotated[list[str] | None, typer.Option(help="ingest, retrieval, answer or http; repeatable.")] = None,
    report: Annotated[bool, typer.Option(help="Draw docs/bench/ from the results.")] = True,
) -> None:
    """Run every benchmark (ingest, retrieval, answers, HTTP load) and draw the report in docs/bench/."""
    import subprocess  # noqa: PLC0415

    script = Path(__file__).resolve().parents[1] / "bench" / "run_all.py"
    if not script.exists():
        typer.echo("The benchmarks live in the repository's bench/ folder: run this from a checkout.", err=True)
        raise typer.Exit(2)
    argv = [
        sys.executable,
        str(script),
        *(["--quick"] if quick else []),
        *(["--only", *only] if only else []),
        *([] if report else ["--no-report"]),
    ]
    raise typer.Exit(subprocess.run(argv, check=False).returncode)


def main() -> None:
    """Entry point of the console script."""
    logging.basicConfig(level=os.environ.get("ASSIST_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    app()


if __name__ == "__main__":
    main()
