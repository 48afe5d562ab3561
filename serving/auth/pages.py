"""The few HTML pages a browser sees during sign-in: no access, a sign-in that did not check out, the provider down."""

from html import escape

from starlette.responses import HTMLResponse

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} – Frontline Assist</title>
  <link rel="stylesheet" href="/static/app.css">
</head>
<body>
  <header><h1>Frontline Assist</h1></header>
  <main>
    <h2 id="page-title">{title}</h2>
    <p id="page-message">{message}</p>
    <p><a href="{link}">{link_text}</a></p>
  </main>
</body>
</html>
"""


def page(status: int, title: str, message: str, *, link: str = "/", link_text: str = "Back to the start page"
         ) -> HTMLResponse:
    """A plain page with a title, one message and one link; every text escaped."""
    body = TEMPLATE.format(title=escape(title), message=escape(message), link=escape(link, quote=True),
                           link_text=escape(link_text))
    return HTMLResponse(body, status_code=status)


def no_access() -> HTMLResponse:
    """403 for a person the city's provider knows but whose groups give no role here: never a default role."""
    return page(
        403,
        "No access",
        "You signed in with your city account, but it gives no access to Frontline Assist: none of your groups "
        "is one the service's roles file lists. Ask your manager to add you to the group for your unit.",
    )


def sign_in_failed(message: str) -> HTMLResponse:
    """400: the provider's answer did not check out; nothing was signed in."""
    return page(400, "Sign-in failed", message, link="/auth/login", link_text="Sign in again")


def provider_down(message: str) -> HTMLResponse:
    """503: the provider could not be reached."""
    return page(503, "Sign-in unavailable", message, link="/auth/login", link_text="Try again")
