"""The phone page: plain HTML, CSS and JS, no build step; the page's own words in the reader's language."""

from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse

from serving import i18n
from serving.routes import routines

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)
router.include_router(routines.router)

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(STATIC_DIR), autoescape=True, undefined=jinja2.StrictUndefined
)


def has_llm(request: Request) -> bool:
    """Whether answers are written by a language model (which can translate and write plain language); the
    extractive generator only quotes the routines.
    """
    return str(request.app.state.services.settings.generator.backend) != "extractive"


def page_config(language: str, *, llm: bool) -> dict[str, Any]:
    """What app.js needs from the server: the page's language, its translations, and what the answers can do."""
    return {"lang": language, "dir": i18n.direction(language), "llm": llm, "messages": i18n.catalogues()[language]}


@router.get("/")
async def index(
    request: Request,
    lang: Annotated[str | None, Query(max_length=8)] = None,
    accept_language: Annotated[str | None, Header(max_length=500)] = None,
) -> HTMLResponse:
    """The phone page, in the language of `?lang=` (the page's switch) or the browser's, Swedish by default."""
    language = i18n.negotiate(lang, accept_language)
    html = _templates.get_template("index.html").render(
        _=lambda message: i18n.gettext(language, message),
        lang=language,
        dir=i18n.direction(language),
        languages=i18n.languages(),
        config=page_config(language, llm=has_llm(request)),
    )
    return HTMLResponse(html, headers={"Content-Language": language, "Vary": "Accept-Language"})
