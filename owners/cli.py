"""`assist docs`: the routine inventory in the terminal (a table per collection) or as one JSON array."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from assist.errors import AssistError

docs_app = typer.Typer(add_completion=False)


@docs_app.command()
def docs(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array, one object per routine.")] = False,
    collection: Annotated[
        list[str] | None, typer.Option("--collection", help="Only this collection; repeatable.")
    ] = None,
    search: Annotated[str, typer.Option("--search", help="Words that title, id, file or owner must contain.")] = "",
    overdue: Annotated[bool, typer.Option("--overdue", help="Only routines past their review date.")] = False,
    failed: Annotated[bool, typer.Option("--failed", help="Only files whose last ingest failed.")] = False,
    replaced: Annotated[
        bool, typer.Option("--replaced", help="Only routines replaced (or about to be) by a newer one.")
    ] = False,
    store: Annotated[Path | None, typer.Option("--store", help="Embedded store folder (ASSIST_QDRANT__PATH).")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Qdrant server URL instead of the embedded store.")] = None,
) -> None:
    """List every routine per collection: title, id, file, format, pages, chunks, language, owner, valid from,
    what it replaces and what replaces it, review date, when it was last ingested, and its ingest status."""
    from assist.backends import make_document_store  # noqa: PLC0415
    from assist.components.edge_store import EdgeDocumentStore  # noqa: PLC0415
    from assist.errors import StoreNotFoundError  # noqa: PLC0415
    from assist.settings import settings_for  # noqa: PLC0415
    from ingest.pipeline import read_status  # noqa: PLC0415
    from owners.inventory import build_inventory, filter_rows, read_payloads  # noqa: PLC0415

    settings = settings_for(store, url)
    try:
        doc_store = make_document_store(settings)
        if isinstance(doc_store, EdgeDocumentStore) and not doc_store.exists():
            msg = f"No document store at {settings.store_path}: run `assist ingest knowledge` first."
            raise StoreNotFoundError(msg)
        try:
            payloads = read_payloads(doc_store)
        finally:
            if hasattr(doc_store, "close"):
                doc_store.close()
        rows = build_inventory(payloads, read_status(settings), settings.roles)
    except (AssistError, OSError) as exc:
        if as_json:
            typer.echo(json.dumps({"error": str(exc)}, ensure_ascii=False))
        else:
            typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    rows = filter_rows(rows, collections=collection, query=search, overdue=overdue, failed=failed, replaced=replaced)
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in rows], ensure_ascii=False))
        return
    _print_table(rows)


def _print_table(rows: list) -> None:  # type: ignore[type-arg]
    import sys  # noqa: PLC0415

    from rich.console import Console  # noqa: PLC0415
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    # Piped into a file or a mail, the table keeps a readable width instead of the 80 columns rich assumes.
    console = Console(width=None if sys.stdout.isatty() else 200)
    if not rows:
        console.print("No routines match.")
        return
    for name in dict.fromkeys(r.collection for r in rows):
        table = Table(title=f"{name}", title_justify="left")
        for col in ("title", "id", "file", "pages", "chunks", "lang", "owner", "valid from", "review", "ingested",
                    "status"):
            table.add_column(col, overflow="fold")
        for r in (r for r in rows if r.collection == name):
            review = f"[red]{r.review_date} overdue[/red]" if r.review_overdue else r.review_date
            # Titles, ids, file names and reasons come from the documents: never markup.
            if r.status == "failed":
                status = f"[red]failed: {escape(r.reason)}[/red]"
            elif r.replaced_by:
                status = f"{r.status}, replaced by {escape(r.replaced_by)}"
            elif r.replaces:
                status = f"{r.status}, replaces {escape(r.replaces)}"
            else:
                status = r.status
            table.add_row(
                escape(r.title), escape(r.doc_id), escape(r.file), str(r.pages or ""), str(r.chunks), r.language,
                escape(r.owner), r.valid_from, review, r.ingested_at[:16].replace("T", " "), status,
            )
        console.print(table)


def main(args: Sequence[str] | None = None, prog_name: str = "assist docs") -> None:
    """Run the docs command with these arguments (the root CLI passes what follows `assist docs`)."""
    typer.main.get_command(docs_app).main(args=list(args) if args is not None else None, prog_name=prog_name)
