"""The phone page: plain HTML, CSS and JS served as files, no build step."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    """The phone page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")
