"""The knowledge-gaps page and its API, for admins and routine owners (the logic lives in owners/gaps.py)."""

import re
from typing import Any, Literal
from urllib.parse import quote, urlencode

import anyio
import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from assist.components.edge_store import EdgeDocumentStore
from assist.errors import AssistError
from owners.gaps import DEFAULT_THRESHOLD, UNASSIGNED, GapTopic, Locate, topics_csv, topics_json
from serving.deps import GapsScopeDep, Services, ServicesDep, TokenDep
from serving.routes.common import json_body_schema, read_json
from serving.routes.pages import STATIC_DIR

router = APIRouter(tags=["gaps"])
#: The handled route's JSON body: two short fields.
HANDLED_BODY_BYTES = 1024


class UnknownTopicError(AssistError):
    """No topic with that key among the gaps the caller may see.

    An AssistError rather than a 404 HTTPException, whose message the app replaces with its "No route ..." one.
    """

    status_code = 404


class HandledRequest(BaseModel):
    """Mark one topic handled, as far as the owner saw it."""

    key: str = Field(max_length=64, description="The topic's key, as /api/gaps gave it.")
    until: str = Field(max_length=40, description="The topic's `last_asked` as shown: newer questions stay new.")


def _locate(services: Services) -> Locate | None:
    """The routine nearest to a topic's centre, from the open store, for topics whose answers named none."""
    assistant = services.asker.assistant
    if assistant is None or not isinstance(assistant.document_store, EdgeDocumentStore):
        return None
    store = assistant.document_store
    contacts = services.settings.retrieval.contacts_doc_id

    def locate(centre: np.ndarray, collection: str) -> str | None:
        filters = None if collection == "*" else {"field": "meta.collection", "operator": "==", "value": collection}
        try:
            with store.pinned():
                docs = store.query_by_embedding(centre.astype(float).tolist(), filters=filters, top_k=3)
        except Exception:  # noqa: BLE001 - a topic without a nearest routine is still worth showing
            return None
        return next((str(d.meta["doc_id"]) for d in docs if d.meta.get("doc_id") not in (None, contacts)), None)

    return locate


#: A page that opens one routine (the phone page's routine view), when the app has one: /routines/{collection}/{id}.
ROUTINE_PAGE = re.compile(r"^/routines/\{[^/{}]+\}/\{[^/{}]+\}$")


def _routine_links(request: Request, topics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each topic with `nearest_url`: its nearest routine's own page where the app has one, else the routine's entry
    on the owners' page (searched by its id); None without a nearest routine.
    """
    page = any(ROUTINE_PAGE.match(getattr(r, "path", "")) and "GET" in (getattr(r, "methods", None) or ())
               for r in request.app.routes)
    for t in topics:
        doc_id, collection = t.get("nearest_doc_id"), t["collection"]
        if not doc_id:
            t["nearest_url"] = None
        elif page and collection != UNASSIGNED:  # a topic of no one collection: its routine's collection is unknown
            t["nearest_url"] = f"/routines/{quote(collection, safe='')}/{quote(doc_id, safe='')}"
        else:
            where = {"q": doc_id} | ({"collection": collection} if collection != UNASSIGNED else {})
            t["nearest_url"] = "/owners?" + urlencode(where)
    return topics


def _read_topics(services: Services, scope: list[str] | None, include_handled: bool) -> tuple[list[GapTopic], int]:
    """The topics of the questions embedded so far, and how many questions still wait for the embedding worker.

    Nothing is embedded here (82 s on a first call with many new questions): the worker does it, and is woken in
    case questions wait that no recording in this process woke it for (another replica's, or a restart's).
    """
    questions = services.questions
    waiting = questions.pending(scope)
    if waiting:
        questions.embed_soon()
    topics = questions.topics(scope, threshold=DEFAULT_THRESHOLD, include_handled=include_handled,
                              locate=_locate(services), embed=False)
    return topics, waiting


async def _topics(services: Services, scope: list[str] | None, include_handled: bool) -> tuple[list[GapTopic], int]:
    # Clustering is CPU work: off the event loop.
    return await anyio.to_thread.run_sync(lambda: _read_topics(services, scope, include_handled))


@router.get("/gaps", include_in_schema=False)
async def gaps_page() -> FileResponse:
    """The gaps page (it asks /api/gaps with the caller's token)."""
    return FileResponse(STATIC_DIR / "gaps.html", media_type="text/html")


@router.get("/api/gaps")
async def list_gaps(
    request: Request, services: ServicesDep, token: TokenDep, scope: GapsScopeDep, include_handled: bool = False
) -> dict[str, Any]:
    """Topics of questions the routines did not answer (refused, only closest, or rated down), per collection.

    Admins see every collection, owners the collections they own (`owns` in the roles file); other roles get 403.
    A topic with fewer than 3 distinct questions is never listed.
    """
    collections = services.settings.roles.known_collections() if scope is None else scope
    topics, waiting = await _topics(services, scope, include_handled)
    return {
        "role": token.role,
        "collections": collections,
        "topics": _routine_links(request, topics_json(topics)),
        # Recorded questions the background worker has not embedded yet: not in any topic until it has.
        "waiting": waiting,
    }


@router.get("/api/gaps/export", response_model=None)
async def export_gaps(
    services: ServicesDep, scope: GapsScopeDep, format: Literal["json", "csv"] = "csv",  # noqa: A002
    include_handled: bool = True,
) -> Response | dict[str, Any]:
    """The topics the caller may see, as CSV for a spreadsheet (or JSON), of the questions embedded so far."""
    topics, waiting = await _topics(services, scope, include_handled)
    if format == "json":
        return {"topics": topics_json(topics), "waiting": waiting}
    return PlainTextResponse(
        topics_csv(topics), media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="knowledge-gaps.csv"'},
    )


@router.post("/api/gaps/handled", openapi_extra=json_body_schema(HandledRequest))
async def mark_handled(
    request: Request, services: ServicesDep, token: TokenDep, scope: GapsScopeDep
) -> dict[str, Any]:
    """Mark a topic handled: its questions up to `until` leave the list; a newer question brings the topic back.

    The body is `{"key": ..., "until": ...}`, at most 1 KiB.
    """
    # Read after the role check (GapsScopeDep): staff roles get 403 without their body being read.
    body = await read_json(request, HandledRequest, HANDLED_BODY_BYTES)
    if body is None:
        raise HTTPException(400, 'Send the topic as JSON: {"key": ..., "until": ...}, as /api/gaps gave them.')
    try:
        marked = await anyio.to_thread.run_sync(
            lambda: services.questions.mark_handled(body.key, until=body.until, by=token.role, collections=scope,
                                                    embed=False)
        )
    except KeyError:
        raise UnknownTopicError("No such topic among the gaps you may see: reload the page.") from None
    return {"key": body.key, "marked": marked}
