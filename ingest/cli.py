"""The body of `assist ingest`: a progress bar with files, pages and chunks per second (stderr), then a summary table
(stdout).

A long file gets a bar of its own that follows its chunks as they are written.
"""

import json
import logging
import os
from pathlib import Path
from typing import Any

from assist.components.e5_embedder import prefer_threads
from assist.settings import settings_for
from ingest.convert import DEFAULT_MAX_FILE_MB
from ingest.pipeline import FileResult, Ingestor, IngestReport, discover

logger = logging.getLogger(__name__)
LONG_FILE_CHUNKS = 500  # a file with at least this many chunks gets its own progress bar


def run_ingest(
    paths: list[Path],
    collection: str | None = None,
    store: Path | None = None,
    url: str | None = None,
    as_json: bool = False,
    prune: bool = False,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    rebuild: bool = False,
) -> int:
    """Ingest `paths`, print the report (one JSON object with `as_json`), and return the exit status.

    0: everything ingested or unchanged; 1: at least one file failed; 2: the ingest could not run at all (the store
    is busy with another ingest, or damaged). The embedded store's new version is published when the run ends.
    """
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    from assist.errors import AssistError  # noqa: PLC0415

    # pypdf warns about every odd font and xref on stderr; the report carries what matters.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    console = Console(stderr=True)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        return _fail(f"Not found: {', '.join(missing)}: check the path", as_json, console)
    settings = settings_for(store, url)
    # A folder's ingest has the machine to itself: the embedding engine may use every core (set before it loads).
    prefer_threads(settings.embedder.ingest_threads or len(os.sched_getaffinity(0)))
    try:
        ingestor = Ingestor(settings, max_file_mb=max_file_mb, rebuild=rebuild)
    except (AssistError, ValueError, RuntimeError) as exc:
        return _fail(f"{exc}", as_json, console)
    try:
        total = sum(len(discover(p, collection)) for p in paths)
        columns = (
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, disable=as_json) as progress:
            task = progress.add_task("Ingesting", total=total, stats="")
            totals = {"pages": 0, "chunks": 0, "files": 0}

            def on_file(result: FileResult) -> None:
                if result.status == "removed":
                    return
                totals["files"] += 1
                if result.status == "ingested":
                    totals["pages"] += result.pages
                    totals["chunks"] += result.chunks
                secs = max(progress.tasks[0].elapsed or 0.0, 1e-6)
                pages, chunks = totals["pages"], totals["chunks"]
                stats = (f"{totals['files'] / secs:.1f} files/s · {pages} pages ({pages / secs:.1f}/s)"
                         f" · {chunks} chunks ({chunks / secs:.1f}/s)")
                progress.update(task, advance=1, stats=stats)

            long_files: dict[str, Any] = {}

            def on_chunks(source: str, written: int, total: int) -> None:
                """A bar of its own for a long file: chunks written so far, batch by batch."""
                if total < LONG_FILE_CHUNKS:
                    return
                if source not in long_files:
                    long_files[source] = progress.add_task(f"  {Path(source).name}", total=total, stats="chunks")
                progress.update(long_files[source], completed=written)
                if written >= total:
                    progress.remove_task(long_files.pop(source))

            report = ingestor.ingest(paths, collection=collection, on_file=on_file, prune=prune, on_chunks=on_chunks)
    except (AssistError, ValueError) as exc:
        _close(ingestor)
        return _fail(f"{exc}", as_json, console)
    problem = _close(ingestor)
    if problem:
        return _fail(problem, as_json, console)
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))  # noqa: T201 - the CLI's one JSON object
    else:
        # The report is the command's result: stdout, so that it can be piped or kept; progress and errors: stderr.
        print_summary(report, Console())
    return 1 if report.failed else 0


def print_summary(report: IngestReport, console: Any) -> None:
    """Counts per status, throughput, then one line per failed file with its reason."""
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    d = report.to_dict()
    secs = max(report.seconds, 1e-6)
    table = Table(title="Ingest report")
    for col in ("status", "files", "pages", "chunks"):
        table.add_column(col, justify="left" if col == "status" else "right")
    for status in ("ingested", "unchanged", "removed", "failed"):
        rows = [f for f in report.files if f.status == status]
        if rows:
            table.add_row(status, str(len(rows)), str(sum(f.pages for f in rows)), str(sum(f.chunks for f in rows)))
    table.caption = (f"{d['seconds']:.1f} s · {len(report.files) / secs:.1f} files/s · {d['pages'] / secs:.1f} pages/s"
                     f" · {d['chunks'] / secs:.1f} chunks/s")
    console.print(table)
    # Paths, notes and reasons carry text from the files themselves ("[SYSTEM] ...", "[/INST]"): never markup.
    for f in report.files:
        if f.notes:
            console.print(f"[yellow]note[/yellow] {escape(f.path)}: {escape('; '.join(f.notes))}")
    for f in report.failed:
        console.print(f"[red]failed[/red] {escape(f.path)}: {escape(f.reason)}")


def _close(ingestor: Ingestor) -> str | None:
    """Publish what was written; the error text when that fails (e.g. the disk is full)."""
    try:
        ingestor.close()
    except OSError as exc:
        return f"The new store version could not be published ({exc.strerror}): free disk space and run again."
    return None


def _fail(message: str, as_json: bool, console: Any) -> int:
    if as_json:
        print(json.dumps({"error": message}, ensure_ascii=False))  # noqa: T201
    else:
        console.print(f"[red]Error:[/red] {message}")
    return 2
