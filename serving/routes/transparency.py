"""The public transparency record (Algorithmic Transparency Standard v0.3.1): HTML, YAML and Markdown, no sign-in."""

import time
from typing import Any

import anyio
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse

from owners.transparency import (
    PUBLISHED_FILE,
    Inventory,
    build_record,
    eval_root,
    published_eval,
    store_inventory,
    to_html,
    to_markdown,
    to_yaml,
)
from serving.deps import Services, ServicesDep

router = APIRouter(tags=["transparency"])
#: The record is rebuilt at most this often: it reads every passage's payload for the inventory.
CACHE_S = 300.0


def _published_stamp(services: Services) -> float | None:
    """When the published-run marker last changed (None: no run published): a new choice shows at once."""
    try:
        return (eval_root(services.settings) / PUBLISHED_FILE).stat().st_mtime
    except OSError:
        return None


def _record(services: Services) -> dict[str, Any]:
    stamp = _published_stamp(services)
    cached = getattr(services, "_transparency", None)
    if cached and time.monotonic() - cached[0] < CACHE_S and cached[2] == stamp:
        return dict(cached[1])
    assistant = services.asker.assistant
    inventory = (
        store_inventory(assistant.document_store) if assistant is not None
        else Inventory(problem="the document store is not open yet")
    )
    # Only the run an admin published (`assist transparency publish`), never whichever eval ran last.
    record = build_record(services.settings, inventory=inventory, eval_run=published_eval(services.settings))
    services._transparency = (time.monotonic(), record, stamp)  # type: ignore[attr-defined]  # noqa: SLF001
    return record


@router.get("/transparency", response_class=HTMLResponse)
async def transparency_page(services: ServicesDep) -> HTMLResponse:
    """The transparency record as a web page (public)."""
    return HTMLResponse(to_html(await anyio.to_thread.run_sync(_record, services)))


@router.get("/transparency.yaml")
async def transparency_yaml(services: ServicesDep) -> PlainTextResponse:
    """The transparency record as YAML: the standard's attribute names as keys (public)."""
    return PlainTextResponse(to_yaml(await anyio.to_thread.run_sync(_record, services)),
                             media_type="application/yaml; charset=utf-8")


@router.get("/transparency.md")
async def transparency_markdown(services: ServicesDep) -> PlainTextResponse:
    """The transparency record as Markdown (public)."""
    return PlainTextResponse(to_markdown(await anyio.to_thread.run_sync(_record, services)),
                             media_type="text/markdown; charset=utf-8")
