"""A real OpenID provider for the sign-in tests (npm's `oidc-provider`, pinned in tests/serving/oidc_provider/),
started on loopback, and a scripted browser that signs in through its login form.
"""

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import free_port
from tests.servers import stop, wait_http

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
CLIENT_ID = "frontline-assist"
CLIENT_SECRET = "test-only-client-secret"
#: The service's address in the tests: https, so that the test client keeps and sends the Secure cookies, as a
#: browser does on https and on loopback (Python's cookie jar sends Secure cookies over https only).
BASE = "https://testserver"
#: Account id → groups (the city roles file tests/data/roles_city.toml maps them).
ACCOUNTS = {
    "anna": ["alla-anstallda", "hemtjanst-personal"],  # home-care
    "bo": ["forskola-personal"],  # preschool
    "cecilia": ["alla-anstallda"],  # no group that gives a role
    "dag": ["frontline-admins"],  # admin
}


def install_provider() -> None:
    """`npm ci` in the provider's folder when its node_modules are missing (the npm cache first: offline-tolerant
    once the cache holds the pinned packages). Skips only when node or npm is absent.
    """
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed (apt-get install nodejs npm): the OpenID sign-in tests need "
                    "npm's oidc-provider.")
    if (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        return
    done = subprocess.run(
        ["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund"],  # noqa: S607
        cwd=PROVIDER_DIR, capture_output=True, text=True, timeout=600, check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci in {PROVIDER_DIR} failed: {done.stderr[-2000:]}")


@contextmanager
def provider(*, groups_in: str = "id_token", redirect_base: str = BASE) -> Iterator[str]:
    """oidc-provider on a free loopback port until the block ends: its issuer URL.

    `groups_in`: "id_token" puts the groups claim into ID tokens; "userinfo" keeps it at the userinfo endpoint.
    """
    install_provider()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URI": f"{redirect_base}/auth/callback",
        "OIDC_POST_LOGOUT_REDIRECT_URI": f"{redirect_base}/",
        "OIDC_ACCOUNTS": json.dumps(ACCOUNTS),
        "OIDC_GROUPS_IN": groups_in,
    }
    proc = subprocess.Popen(  # noqa: S603
        ["node", "provider.mjs"], cwd=PROVIDER_DIR, env=env,  # noqa: S607
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        # Its output is read only once it has exited: reading a running server's pipe would block.
        wait_http(f"{issuer}/.well-known/openid-configuration", proc, "oidc-provider", 60,
                  lambda: proc.stdout.read() if proc.stdout and proc.poll() is not None else "")
        yield issuer
    finally:
        stop(proc)


def with_param(url: str, name: str, value: str) -> str:
    """`url` with query parameter `name` set to `value`."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name] + [(name, value)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def param(url: str, name: str) -> str | None:
    return dict(parse_qsl(urlsplit(url).query)).get(name)


class ProviderBrowser:
    """A browser at the provider: keeps the provider's cookies (its own sign-in session) between calls."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=10)
        #: How many times the provider showed its login form.
        self.login_forms = 0

    def close(self) -> None:
        self.http.close()

    def log_in(self, authorization_url: str, account: str, *, back_to: str = BASE) -> str:
        """Follow the authorization URL as a browser would, post the provider's login form for `account` when it
        asks (the development login takes any password), and return the URL it sends the browser back to.
        """
        url = authorization_url
        for _ in range(10):
            resp = self.http.get(url)
            if resp.status_code == 200:
                action = re.search(r'<form[^>]*action="([^"]+)"', resp.text)
                assert action and 'name="login"' in resp.text, resp.text[:500]
                self.login_forms += 1
                form = {"prompt": "login", "login": account, "password": "any"}
                resp = self.http.post(urljoin(url, action.group(1)), data=form)
            assert resp.status_code in (302, 303), (resp.status_code, resp.text[:500])
            url = urljoin(url, resp.headers["location"])
            if url.startswith(back_to):
                return url
        msg = "the provider never sent the browser back"
        raise AssertionError(msg)

    def sign_out(self, end_session_url: str) -> str:
        """Open the provider's logout page (RP-initiated logout), confirm it, and return where it sends the browser."""
        page = self.http.get(end_session_url)
        assert page.status_code == 200, (page.status_code, page.text[:500])
        action = re.search(r'<form[^>]*method="post"[^>]*action="([^"]+)"', page.text)
        assert action, page.text[:500]
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)) | {"logout": "yes"}
        assert "xsrf" in form, page.text[:500]
        resp = self.http.post(urljoin(end_session_url, action.group(1)), data=form)
        assert resp.status_code in (302, 303), (resp.status_code, resp.text[:500])
        return str(resp.headers["location"])
