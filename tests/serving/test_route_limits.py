"""The routes' own body limits (issue 23): a role is checked before a body is read, and each JSON body has its route's
cap, read no further than the cap.
"""

from typing import Any

import pytest

from serving.routes.gaps import HANDLED_BODY_BYTES
from serving.routes.owners import RETIRE_BODY_BYTES
from tests.serving.conftest import Api

RETIRE = "/api/owners/documents/fall/retire"
#: The issue's figure: a 20 MB JSON body, under the owners' paths' upload limit (20 MiB by default).
BIG = 20_000_000
CHUNK = 64 * 1024


def raw_post(api: Api, path: str, query: str, headers: dict[str, str], body: bytes, *,
             content_length: bool = True) -> tuple[int, int, bytes]:
    """POST `body` through the app's ASGI interface in 64 KiB messages, as a server hands it over: the status, how
    many of the body's bytes the app took before answering, and the response body.
    """
    chunks = [body[i:i + CHUNK] for i in range(0, len(body), CHUNK)] or [b""]
    taken = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal taken
        if not chunks:
            return {"type": "http.disconnect"}
        chunk = chunks.pop(0)
        taken += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()] + [
        (b"host", b"testserver"), (b"content-type", b"application/json")]
    if content_length:
        raw.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "", "headers": raw,
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80), "state": {},
    }
    portal = api.client.portal
    assert portal is not None
    portal.call(api.client.app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], taken, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def big_reason(size: int) -> bytes:
    return b'{"reason": "' + b"a" * (size - 14) + b'"}'


class TestRoleBeforeBody:
    @pytest.mark.parametrize("role", ["home-care", "preschool", "reception"])
    def test_a_staff_token_gets_403_on_retire_without_its_20_mb_body_being_read(self, city_api: Api, role: str) -> None:
        status, taken, body = raw_post(city_api, RETIRE, "collection=home_care", city_api.token(role), big_reason(BIG))
        assert status == 403, body
        assert b"owns no collection" in body
        assert taken == 0  # not a byte of the body read, let alone parsed

    def test_a_staff_token_gets_403_on_gaps_handled_without_its_body_being_read(self, city_api: Api) -> None:
        status, taken, _ = raw_post(city_api, "/api/gaps/handled", "", city_api.token("home-care"),
                                    big_reason(60_000))
        assert (status, taken) == (403, 0)

    def test_an_owners_body_over_the_routes_cap_is_refused_from_its_length_alone(self, city_api: Api) -> None:
        status, taken, body = raw_post(city_api, RETIRE, "collection=home_care", city_api.token("owner-home-care"),
                                       big_reason(BIG))
        assert status == 413, body
        assert f"at most {RETIRE_BODY_BYTES}".encode() in body
        assert taken == 0

    def test_without_a_length_the_body_is_read_no_further_than_the_cap(self, city_api: Api) -> None:
        status, taken, _ = raw_post(city_api, RETIRE, "collection=home_care", city_api.token("owner-home-care"),
                                    big_reason(BIG), content_length=False)
        assert status == 413
        assert taken <= RETIRE_BODY_BYTES + CHUNK  # the message that crossed the cap, and nothing after it
        status, taken, _ = raw_post(city_api, "/api/gaps/handled", "", city_api.token("owner-home-care"),
                                    big_reason(60_000), content_length=False)
        assert status == 413 and taken <= HANDLED_BODY_BYTES + CHUNK

    def test_an_owners_reason_still_reaches_the_routine_desk(self, city_api: Api) -> None:
        owner = city_api.token("owner-home-care")
        # No such routine here (the desk's 404): the body was read and accepted on the way.
        resp = city_api.client.post("/api/owners/documents/no-such/retire?collection=home_care",
                                    json={"reason": "Ersatt av ny rutin 😀" * 20}, headers=owner)
        assert resp.status_code == 404, resp.text
        assert "no-such" in resp.json()["error"]["message"]
        bad = city_api.client.post(f"{RETIRE}?collection=home_care", content=b"{not json", headers=owner)
        assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]["message"]
        long = city_api.client.post(f"{RETIRE}?collection=home_care", json={"reason": "x" * 501}, headers=owner)
        assert long.status_code == 422 and "reason" in long.json()["error"]["message"]

    def test_the_openapi_description_still_shows_the_bodies(self, city_api: Api) -> None:
        spec = city_api.client.get("/openapi.json", headers=city_api.token()).json()

        def fields(path: str) -> set[str]:
            schema = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
            if "$ref" in schema:
                schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            return set(schema["properties"])

        assert fields("/api/owners/documents/{doc_id}/retire") == {"reason"}
        assert fields("/api/gaps/handled") == {"key", "until"}
