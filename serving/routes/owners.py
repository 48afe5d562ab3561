"""The content owners' page and its API: the routine inventory, and adding, replacing and retiring routines in the
collections the caller's role owns (`owns = [...]` in the roles file; `admin = true` manages every collection).

Every route resolves the caller as the others do (`current_token`), so a sign-in that sets the caller (a session
cookie) works here unchanged. Staff roles get 403 on every owner route.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from assist.backends import stored_collections
from owners.changes import Change
from owners.inventory import DocumentRow, build_inventory, filter_rows, read_payloads
from owners.uploads import Actor, Outcome, RoutineDesk, RoutineFields
from serving.deps import ServicesDep, TokenDep, get_services
from serving.routes.common import json_body_schema, read_json
from serving.routes.pages import STATIC_DIR
from serving.tokens import TokenInfo

router = APIRouter(tags=["owners"])
NOT_AN_OWNER = "This is for content owners: your role owns no collection (owns = [...] in the roles file)."
#: The retire route's JSON body: a reason of at most 500 characters, room for each written as JSON's longest escape
#: (12 bytes for one emoji). The guard's cap on these paths is the upload limit (MBs), meant for add and replace.
RETIRE_BODY_BYTES = 8192


@dataclass
class OwnerCaller:
    """A caller who may manage routines: the token, and the collections it manages."""

    token: TokenInfo
    collections: list[str]
    admin: bool = False

    def check(self, collection: str) -> None:
        """403 unless the caller manages `collection`."""
        if collection not in self.collections:
            raise HTTPException(403, f"Your role does not own the collection {collection!r}.")

    @property
    def actor(self) -> Actor:
        return Actor(token_id=self.token.token_id, role=self.token.role,
                     manages=None if self.admin else tuple(self.collections))


def managed_collections(request: Request, token: TokenInfo) -> tuple[list[str], bool]:
    """The collections the token's role manages, and whether it is an admin role."""
    services = get_services(request)
    roles = services.settings.roles
    role = roles.roles.get(token.role)
    if role is None:
        return [], False
    if role.admin:
        present: list[str] = []
        if services.asker.assistant is not None:
            present = stored_collections(services.asker.assistant.document_store)
        return roles.known_collections(present), True
    return list(role.owns), False


def owner_caller(request: Request, token: TokenDep) -> OwnerCaller:
    """The caller, who must own at least one collection or be an admin; 403 for every other role."""
    collections, admin = managed_collections(request, token)
    if not collections:
        raise HTTPException(403, NOT_AN_OWNER)
    return OwnerCaller(token=token, collections=collections, admin=admin)


OwnerDep = Annotated[OwnerCaller, Depends(owner_caller)]


def owned_collection(caller: OwnerDep, collection: Annotated[str, Query(max_length=64)]) -> str:
    """The `collection` query parameter, which the caller must manage (checked before the body is read)."""
    caller.check(collection)
    return collection


CollectionDep = Annotated[str, Depends(owned_collection)]


class OwnerInfo(BaseModel):
    """Who is signed in on the owners' page."""

    role: str
    collections: list[str]
    admin: bool


class ChangeOut(BaseModel):
    """What an add, replace or retire did."""

    action: str
    doc_id: str
    collection: str
    title: str
    source: str
    detail: dict[str, object]
    notes: list[str]


class RetireRequest(BaseModel):
    """Why a routine is retired (kept in the change log)."""

    reason: str = Field(default="", max_length=500)


def _out(outcome: Outcome) -> ChangeOut:
    return ChangeOut(**outcome.__dict__)


async def _until_done_or_gone(request: Request, work: Callable[[threading.Event], Outcome]) -> Outcome:
    """Run an upload in a thread; when the client disconnects, the upload is told to stop (and releases the store)."""
    cancel = threading.Event()

    async def watch() -> None:
        while not cancel.is_set():
            if await request.is_disconnected():
                cancel.set()
                return
            await anyio.sleep(0.5)

    outcome: list[Outcome] = []
    failure: list[Exception] = []

    async def run() -> None:
        try:
            outcome.append(await anyio.to_thread.run_sync(lambda: work(cancel)))
        except Exception as exc:  # noqa: BLE001 - raised again below, outside the task group (which would wrap it)
            failure.append(exc)
        finally:
            tasks.cancel_scope.cancel()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch)
        tasks.start_soon(run)
    if failure:
        raise failure[0]
    return outcome[0]


def _for_owner(change: Change) -> Change:
    """A change as owners see it: where a retired file is kept, relative to the data dir, never a server path
    (older records kept the absolute one)."""
    kept = change.detail.get("kept_at")
    if not isinstance(kept, str) or not (PurePosixPath(kept).is_absolute() or PureWindowsPath(kept).is_absolute()):
        return change
    parts = PurePosixPath(kept.replace("\\", "/")).parts
    tail = parts[parts.index("retired"):] if "retired" in parts else parts[-1:]
    return change.model_copy(update={"detail": {**change.detail, "kept_at": "/".join(tail)}})


def _desk(request: Request) -> RoutineDesk:
    desk: RoutineDesk = request.app.state.routine_desk
    return desk


@router.get("/owners", include_in_schema=False)
async def owners_page(request: Request) -> FileResponse:
    """The owners' page: a static shell whose every piece of data comes from the routes below (bearer token).

    When the request identifies the caller (a valid token; a sign-in session once there is one), a role that owns
    nothing gets 403 here too.
    """
    info = getattr(request.state, "token", None)
    if isinstance(info, TokenInfo) and not managed_collections(request, info)[0]:
        raise HTTPException(403, NOT_AN_OWNER)
    return FileResponse(STATIC_DIR / "owners.html", media_type="text/html")


@router.get("/api/owners/me")
async def me(caller: OwnerDep) -> OwnerInfo:
    """The caller's role and the collections it manages."""
    return OwnerInfo(role=caller.token.role, collections=caller.collections, admin=caller.admin)


@router.get("/api/owners/documents")
async def documents(
    caller: OwnerDep,
    services: ServicesDep,
    collection: Annotated[str | None, Query(description="Only this collection.")] = None,
    q: Annotated[str, Query(max_length=200, description="Words that title, id, file or owner contain.")] = "",
    overdue: Annotated[bool, Query(description="Only routines past their review date.")] = False,
    failed: Annotated[bool, Query(description="Only files whose last ingest failed.")] = False,
    replaced: Annotated[bool, Query(description="Only routines replaced, or about to be.")] = False,
) -> list[DocumentRow]:
    """The inventory of the collections the caller manages: every routine with its metadata and ingest status."""
    if collection is not None:
        caller.check(collection)
    assistant = services.asker.assistant
    if assistant is None:
        raise HTTPException(503, "The service is still starting: try again in a moment.")
    from ingest.pipeline import read_status  # noqa: PLC0415 - ingest is loaded only when owners use it

    def load() -> list[DocumentRow]:
        rows = build_inventory(read_payloads(assistant.document_store), read_status(services.settings),
                               services.settings.roles)
        return filter_rows(rows, collections=[collection] if collection else caller.collections, query=q,
                           overdue=overdue, failed=failed, replaced=replaced)

    return await anyio.to_thread.run_sync(load)


def _fields(title: str, owner: str, valid_from: date | None, review_date: date | None) -> RoutineFields:
    return RoutineFields(title=title, owner=owner, valid_from=valid_from, review_date=review_date)


@router.post("/api/owners/documents", status_code=201)
async def add_document(  # noqa: PLR0913 - the form's fields, as query parameters beside the file's bytes
    request: Request,
    caller: OwnerDep,
    collection: CollectionDep,
    filename: Annotated[str, Query(max_length=255, description="The file's name; its id is made from it.")],
    title: Annotated[str, Query(max_length=200)] = "",
    owner: Annotated[str, Query(max_length=200)] = "",
    valid_from: date | None = None,
    review_date: date | None = None,
) -> ChangeOut:
    """Add a routine: the request body is the file (PDF, DOCX, Markdown, HTML or text, judged by its bytes).

    It is converted and ingested at once; a file that cannot be read is refused (415, 422) and nothing changes.
    A file over the upload budget (chunks, seconds) is refused with 413; while another change is under way the answer
    is 503 with Retry-After; a client that disconnects stops the upload. Nothing of a refused upload stays behind.
    """
    data = await request.body()
    desk = _desk(request)
    fields = _fields(title, owner, valid_from, review_date)
    outcome = await _until_done_or_gone(
        request, lambda cancel: desk.add(data, filename, collection, fields, caller.actor, cancel=cancel)
    )
    return _out(outcome)


@router.post("/api/owners/documents/{doc_id}/replace", status_code=201)
async def replace_document(  # noqa: PLR0913 - as add_document
    request: Request,
    caller: OwnerDep,
    doc_id: str,
    collection: CollectionDep,
    filename: Annotated[str, Query(max_length=255)],
    title: Annotated[str, Query(max_length=200)] = "",
    owner: Annotated[str, Query(max_length=200)] = "",
    valid_from: Annotated[date | None, Query(description="The day the new routine takes over; default today.")] = None,
    review_date: date | None = None,
) -> ChangeOut:
    """Replace a routine with a new file from `valid_from`: until that day the old one stays in force."""
    data = await request.body()
    desk = _desk(request)
    fields = _fields(title, owner, valid_from, review_date)
    outcome = await _until_done_or_gone(
        request, lambda cancel: desk.replace(doc_id, data, filename, collection, fields, caller.actor, cancel=cancel)
    )
    return _out(outcome)


@router.post("/api/owners/documents/{doc_id}/retire", openapi_extra=json_body_schema(RetireRequest))
async def retire_document(request: Request, caller: OwnerDep, doc_id: str, collection: CollectionDep) -> ChangeOut:
    """Retire a routine: it leaves the answers at once; what was removed, and by whom, goes to the change log.

    The body (optional) is `{"reason": "..."}`, at most 8 KiB.
    """
    # Read here, after the role and collection checks: the guard lets bodies up to the upload limit through on
    # these paths, and a staff token must not get one parsed.
    body = await read_json(request, RetireRequest, RETIRE_BODY_BYTES)
    desk = _desk(request)
    reason = body.reason if body else ""
    outcome = await anyio.to_thread.run_sync(lambda: desk.retire(doc_id, collection, caller.actor, reason))
    return _out(outcome)


@router.get("/api/owners/changes")
async def changes(caller: OwnerDep, request: Request) -> list[Change]:
    """The newest changes (added, replaced, retired) in the collections the caller manages."""
    desk = _desk(request)
    if desk.changes is None:
        return []
    log = desk.changes
    rows = await anyio.to_thread.run_sync(lambda: log.list(caller.collections))
    return [_for_owner(change) for change in rows]
