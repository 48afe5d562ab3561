"""Two `assist serve` replicas sharing PostgreSQL and Redis, each with its own copy of the store, behind Debian's
HAProxy running deploy/haproxy.cfg as it ships: a token made with `assist token create` works on both, feedback given
on one is exported from the other, and a replica killed outright costs the callers behind the balancer nothing.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from serving.state import Database
from tests.servers import HAPROXY_BINARY, HAPROXY_CFG, haproxy, server_states
from tests.serving.conftest import REPO, LiveServer, serve_process

pytestmark = pytest.mark.integration

FALL = "Vad gör jag om en brukare har ramlat?"
SAFETY_S = 90  # only so that a broken build fails instead of hanging; nothing asserts on time
TOKEN_CACHE_S = 1  # each replica reuses a token lookup this long (ASSIST_SERVE__TOKEN_CACHE_S)


@dataclass
class Replicas:
    servers: list[LiveServer]
    balancer: str
    stats: str
    env: dict[str, str]
    database_url: str

    def states(self) -> dict[str, str]:
        return server_states(httpx.get(self.stats, timeout=5).text)

    def wait_states(self, expected: dict[str, str]) -> None:
        deadline = time.monotonic() + SAFETY_S
        while (states := self.states()) != expected:
            assert time.monotonic() < deadline, f"haproxy shows {states}, expected {expected}"
            time.sleep(0.2)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`assist ARGS` in its own process, as an operator runs it."""
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "assist.cli", *args], cwd=REPO, env=os.environ | env, capture_output=True, text=True,
        timeout=SAFETY_S, check=False,
    )


@pytest.fixture
def replicas(built_store: Path, postgres_url: str, redis_url: str, tmp_path: Path) -> Iterator[Replicas]:
    if HAPROXY_BINARY is None:
        pytest.skip("Debian's haproxy is not installed (apt-get install haproxy): the replica tests need it.")
    env = {"ASSIST_DATABASE__URL": postgres_url, "ASSIST_REDIS__URL": redis_url, "HF_HUB_OFFLINE": "1",
           "ASSIST_SERVE__TOKEN_CACHE_S": str(TOKEN_CACHE_S)}
    with ExitStack() as stack:
        servers = []
        for name in ("a", "b"):
            data = tmp_path / name
            shutil.copytree(built_store, data / "qdrant")
            servers.append(stack.enter_context(serve_process(data, env)))
        addresses = [s.base_url.removeprefix("http://") for s in servers]
        balancer, stats = stack.enter_context(haproxy(addresses, tmp_path / "haproxy.log"))
        cluster = Replicas(servers=servers, balancer=balancer, stats=stats, env=env | {
            "ASSIST_DATA_DIR": str(tmp_path / "operator")}, database_url=postgres_url)
        cluster.wait_states({"api1": "UP", "api2": "UP"})
        yield cluster


def test_a_token_and_feedback_made_through_one_replica_work_on_the_other(replicas: Replicas) -> None:
    a, b = replicas.servers
    made = cli(replicas.env, "token", "create", "--role", "home-care")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[0]
    admin = cli(replicas.env, "token", "create", "--role", "admin").stdout.strip().splitlines()[0]
    headers = {"Authorization": f"Bearer {token}"}

    on_b = httpx.post(f"{b.base_url}/api/ask", json={"question": FALL}, headers=headers, timeout=SAFETY_S)
    assert on_b.status_code == 200, on_b.text
    assert on_b.json()["citations"][0]["doc_id"] == "fall"
    # Feedback on A about the answer B gave: A finds that answer's documents in the shared database.
    rated = httpx.post(f"{a.base_url}/api/feedback", json={"request_id": on_b.json()["request_id"], "rating": "down",
                                                            "reason": "för lång"}, headers=headers, timeout=30)
    assert rated.status_code == 201, rated.text
    exported = httpx.get(f"{b.base_url}/api/feedback/export", headers={"Authorization": f"Bearer {admin}"},
                         timeout=30).json()["feedback"]
    row = next(r for r in exported if r["feedback_id"] == rated.json()["feedback_id"])
    assert row["documents"] == ["fall"]
    assert row["rating"] == "down"
    # Both replicas wrote their audit entries to the one database.
    from serving.audit import AuditLog  # noqa: PLC0415

    db = Database(replicas.database_url)
    assert on_b.json()["request_id"] in {e["request_id"] for e in AuditLog(db).read()}
    db.close()
    # A token revoked elsewhere (here the CLI) is refused by both once their cached lookups have expired: both
    # replicas have just looked this token up, so each holds it in its cache.
    token_id = made.stderr.split("Token ", 1)[1].split()[0]
    assert cli(replicas.env, "token", "revoke", token_id).returncode == 0
    time.sleep(TOKEN_CACHE_S + 0.5)
    for server in (a, b):
        assert httpx.post(f"{server.base_url}/api/ask", json={"question": FALL}, headers=headers,
                          timeout=30).status_code == 401


def test_the_balancer_keeps_answering_when_a_replica_is_killed(replicas: Replicas) -> None:
    token = cli(replicas.env, "token", "create", "--role", "home-care").stdout.strip().splitlines()[0]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=replicas.balancer, headers=headers, timeout=SAFETY_S) as client:
        ids = [client.post("/api/ask", json={"question": FALL}).json()["request_id"] for _ in range(4)]
        assert len(set(ids)) == 4
        killed = replicas.servers[0].process
        assert killed is not None
        killed.kill()  # no shutdown: the replica's connections and leases are simply gone
        killed.wait(timeout=10)
        # Before and after HAProxy's health check notices, every question is answered: a refused connection is
        # retried on the other replica.
        answers = [client.post("/api/ask", json={"question": FALL}) for _ in range(6)]
        assert [r.status_code for r in answers] == [200] * 6
        replicas.wait_states({"api1": "DOWN", "api2": "UP"})
        assert client.post("/api/ask", json={"question": FALL}).status_code == 200
        # The public probes pass through the balancer; the balancer's own stats are on a separate address.
        assert client.get("/readyz").status_code == 200


def test_the_shipped_config_is_valid_for_the_shipped_environment_file() -> None:
    """deploy/haproxy.env names every variable deploy/haproxy.cfg reads; `haproxy -c` accepts the pair."""
    if HAPROXY_BINARY is None:
        pytest.skip("Debian's haproxy is not installed (apt-get install haproxy).")
    values = env_file("haproxy.env")
    config = "\n".join(line for line in HAPROXY_CFG.read_text().splitlines() if not line.lstrip().startswith("#"))
    assert set(re.findall(r"\$\{(\w+)\}", config)) == set(values)
    checked = subprocess.run([HAPROXY_BINARY, "-c", "-f", str(HAPROXY_CFG)], env={"PATH": "/usr/bin:/bin", **values},
                             capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def env_file(name: str) -> dict[str, str]:
    """KEY=value lines of a file under deploy/ (systemd's EnvironmentFile= format, comments on their own lines)."""
    text = (HAPROXY_CFG.parent / name).read_text(encoding="utf-8")
    return dict(line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))


@pytest.mark.parametrize("name", ["replica.env", "replica-1.env"])
def test_every_shipped_replica_setting_is_one_the_service_reads(name: str) -> None:
    """A misspelt name would be ignored silently (the settings ignore unknown variables): each must be a field."""
    from assist.settings import Settings  # noqa: PLC0415
    from serving.config import ServingSettings  # noqa: PLC0415

    for key in env_file(name):
        assert key.startswith("ASSIST_"), key
        if key.startswith("ASSIST_SERVE__"):
            assert key.removeprefix("ASSIST_SERVE__").lower() in ServingSettings.model_fields, key
            continue
        model: object = Settings
        for part in key.removeprefix("ASSIST_").lower().split("__"):
            fields = model.model_fields  # type: ignore[attr-defined]
            assert part in fields, key
            model = fields[part].annotation
    # The values parse as the settings' types.
    values = env_file(name)
    ServingSettings(**{k.removeprefix("ASSIST_SERVE__").lower(): v for k, v in values.items()
                       if k.startswith("ASSIST_SERVE__")})


def test_the_replica_unit_reads_the_shipped_files() -> None:
    unit = (HAPROXY_CFG.parent / "frontline-assist@.service").read_text(encoding="utf-8")
    assert "EnvironmentFile=/etc/frontline-assist/replica.env" in unit
    assert "EnvironmentFile=/etc/frontline-assist/replica-%i.env" in unit
    assert "ExecStart=/opt/frontline-assist/.venv/bin/assist serve" in unit
    lb = (HAPROXY_CFG.parent / "frontline-assist-lb.service").read_text(encoding="utf-8")
    assert "EnvironmentFile=/etc/frontline-assist/haproxy.env" in lb
    assert "CONFIG=/etc/frontline-assist/haproxy.cfg" in lb
    # The replica test above sets the shared-state variables the shipped replica.env sets.
    assert {"ASSIST_DATABASE__URL", "ASSIST_REDIS__URL"} <= set(env_file("replica.env"))
