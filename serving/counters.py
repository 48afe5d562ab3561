"""Counters every replica of the service shares: per-token rate buckets and capped slots (questions in flight per
token, answers in flight to the LLM), in Redis when `ASSIST_REDIS__URL` is set; else, for the worker processes of one
`assist serve --workers N`, in a SQLite file in the data dir (`FileCounters`); else in this process.

A slot is a lease, not a count: a Redis sorted set per counter holds one member per slot taken, scored by the time
the lease runs out (Redis's own clock, so replicas' clocks need not agree). A replica renews the leases it holds
every third of `lease_s`; a replica that dies stops renewing, and its slots free themselves `lease_s` later
instead of being lost for good as a plain INCR/DECR counter's would.
"""

import asyncio
import contextlib
import itertools
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from assist.errors import BackendUnavailableError, ConfigError
from assist.settings import RedisSettings

T = TypeVar("T")

logger = logging.getLogger(__name__)

# Drops expired leases, then takes one if fewer than the cap are held. KEYS[1] the set; ARGV cap, lease ms, member.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# Pushes the end of the given leases (ARGV[2:]) in KEYS[1] to now + ARGV[1] ms; a lease that already ran out is
# not brought back (its slot may have been given to someone else meanwhile).
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local kept = 0
for i = 2, #ARGV do
  kept = kept + redis.call('ZADD', KEYS[1], 'XX', 'CH', until_ms, ARGV[i])
end
if kept > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return kept
"""

# Live leases in KEYS[1].
_COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""

# A token bucket: `burst` at once, refilled at ARGV[1] per second. Returns the seconds to wait as text (a Lua number
# returned as such would be cut to an integer), "0" when the request may go ahead.
_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'level', 'last')
local level = tonumber(v[1]) or burst
local last = tonumber(v[2]) or now
level = math.min(burst, level + math.max(0, now - last) * rate)
local wait = 0
if level >= 1 then
  level = level - 1
elseif rate > 0 then
  wait = (1 - level) / rate
else
  wait = 60
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'last', tostring(now))
local ttl = 60000
if rate > 0 then
  ttl = math.ceil(burst / rate * 1000) + 1000
end
redis.call('PEXPIRE', KEYS[1], ttl)
return tostring(wait)
"""


class Counters(Protocol):
    """What the guard and the answering service need from counters, wherever they live."""

    shared: bool

    async def take(self, name: str, cap: int) -> str | None:
        """A lease on one of `cap` slots of `name`, or None when all are taken."""
        ...

    async def give_back(self, name: str, lease: str) -> None:
        """Free a slot taken with `take`."""
        ...

    async def held(self, name: str) -> int:
        """Slots of `name` taken now (by every replica)."""
        ...

    async def rate(self, key: str, per_minute: float, burst: int) -> float:
        """0 when a request under `key` may go ahead, else the seconds to wait (a token bucket)."""
        ...

    async def start(self) -> None:
        """Begin whatever upkeep the counters need (renewing leases); called on the app's event loop."""
        ...

    async def close(self) -> None:
        """Stop the upkeep and give back what is held."""
        ...


class LocalCounters:
    """The single-machine default: plain counters of this process (the event loop is the only writer)."""

    shared = False

    def __init__(self) -> None:
        self._slots: dict[str, set[str]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._ids = itertools.count(1)

    async def take(self, name: str, cap: int) -> str | None:
        held = self._slots.setdefault(name, set())
        if len(held) >= cap:
            return None
        lease = str(next(self._ids))
        held.add(lease)
        return lease

    async def give_back(self, name: str, lease: str) -> None:
        held = self._slots.get(name)
        if held is not None:
            held.discard(lease)
            if not held:
                del self._slots[name]

    async def held(self, name: str) -> int:
        return len(self._slots.get(name, ()))

    async def rate(self, key: str, per_minute: float, burst: int, now: float | None = None) -> float:
        return bucket_wait(self._buckets, key, per_minute, burst, time.monotonic() if now is None else now)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._slots.clear()


def bucket_wait(buckets: dict[str, tuple[float, float]], key: str, per_minute: float, burst: int, now: float) -> float:
    """One request against the token bucket `buckets[key]`: 0 when it may go ahead, else the seconds to wait."""
    rate = per_minute / 60.0
    level, last = buckets.get(key, (float(burst), now))
    level = min(float(burst), level + (now - last) * rate)
    if level >= 1.0:
        buckets[key] = (level - 1.0, now)
        return 0.0
    buckets[key] = (level, now)
    return (1.0 - level) / rate if rate > 0 else 60.0


class _HeldLeases:
    """What both shared counters do with the slots this process holds: remember them, push their leases out every
    third of the lease in the background (`renew`), and give them back on close."""

    renew_every_s: float

    def __init__(self) -> None:
        self._held: dict[str, set[str]] = {}
        self._renewer: asyncio.Task[None] | None = None

    def _hold(self, name: str, lease: str) -> None:
        self._held.setdefault(name, set()).add(lease)

    def _forget(self, name: str, lease: str) -> None:
        held = self._held.get(name)
        if held is not None:
            held.discard(lease)
            if not held:
                del self._held[name]

    async def renew(self) -> None:
        raise NotImplementedError

    async def give_back(self, name: str, lease: str) -> None:
        raise NotImplementedError

    def _start_renewing(self) -> None:
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever(), name="assist-lease-renewer")

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every_s)
            try:
                await self.renew()
            except BackendUnavailableError as exc:
                logger.warning("Leases not renewed: %s", exc)

    async def _stop_renewing_and_give_back(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        for name, leases in list(self._held.items()):
            for lease in list(leases):
                await self.give_back(name, lease)


class RedisCounters(_HeldLeases):
    """Counters in one Redis shared by every replica; each replica renews its own leases in the background.

    A Redis that cannot be reached is a BackendUnavailableError (503): without the shared counters no replica can
    tell how much is in flight, and admitting everyone would defeat the limits the counters exist for.
    """

    shared = True

    def __init__(self, *, url: str, prefix: str = "assist:", lease_s: float = 10.0, timeout_s: float = 2.0):
        self.url = url
        self.prefix = prefix
        super().__init__()
        self.lease_ms = int(lease_s * 1000)
        self.renew_every_s = lease_s / 3
        self.timeout_s = timeout_s
        #: Names this replica's leases with a random part, so two replicas never take the same member.
        self.replica = secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._client: Any = None
        self._scripts: dict[str, Any] = {}

    def __str__(self) -> str:
        """Redis's address without a password, for messages."""
        from redis.connection import parse_url  # noqa: PLC0415

        try:
            parts = parse_url(self.url)
        except ValueError:
            return "Redis"
        where = parts.get("path") or f"{parts.get('host', 'localhost')}:{parts.get('port', 6379)}"
        return f"Redis at {where}"

    def _redis(self) -> Any:
        if self._client is None:
            import redis.asyncio as aioredis  # noqa: PLC0415 - only a replicated deployment needs it

            try:
                self._client = aioredis.from_url(
                    self.url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s,
                    health_check_interval=30,
                )
            except ValueError as exc:
                msg = f"ASSIST_REDIS__URL is not a Redis URL ({exc}): write redis://host:6379/0."
                raise ConfigError(msg) from None
            for name, source in (("acquire", _ACQUIRE), ("renew", _RENEW), ("count", _COUNT), ("bucket", _BUCKET)):
                self._scripts[name] = self._client.register_script(source)
        return self._client

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        from redis.exceptions import RedisError  # noqa: PLC0415

        self._redis()
        try:
            return await self._scripts[script](keys=keys, args=args)
        except RedisError as exc:
            msg = (f"The shared counters ({self}) cannot be reached ({type(exc).__name__}): start Redis or check "
                   "ASSIST_REDIS__URL.")
            raise BackendUnavailableError(msg) from None

    def _key(self, name: str) -> str:
        return f"{self.prefix}slots:{name}"

    async def take(self, name: str, cap: int) -> str | None:
        lease = f"{self.replica}:{next(self._ids)}"
        if not await self._run("acquire", [self._key(name)], [cap, self.lease_ms, lease]):
            return None
        self._hold(name, lease)
        return lease

    async def give_back(self, name: str, lease: str) -> None:
        from redis.exceptions import RedisError  # noqa: PLC0415

        self._forget(name, lease)
        # Tried twice: a slot left behind counts against its caller until its lease runs out.
        for attempt in (1, 2):
            try:
                await self._redis().zrem(self._key(name), lease)
            except RedisError as exc:
                if attempt == 2:
                    # Not renewed any more, so the slot frees itself when the lease runs out.
                    logger.warning("Could not give back a slot of %s (%s): it frees itself within %d ms",
                                   name, type(exc).__name__, self.lease_ms)
            else:
                return

    async def held(self, name: str) -> int:
        return int(await self._run("count", [self._key(name)], []))

    async def rate(self, key: str, per_minute: float, burst: int) -> float:
        wait = await self._run("bucket", [f"{self.prefix}rate:{key}"], [per_minute / 60.0, burst])
        return float(wait)

    async def renew(self) -> None:
        """Push out the end of every lease this replica holds."""
        for name, leases in list(self._held.items()):
            if leases:
                await self._run("renew", [self._key(name)], [self.lease_ms, *leases])

    async def start(self) -> None:
        if self._renewer is None:
            self._redis()
        self._start_renewing()

    async def close(self) -> None:
        await self._stop_renewing_and_give_back()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class FileCounters(_HeldLeases):
    """Counters the worker processes of one machine share, in a SQLite file: the same leases and token buckets as
    `RedisCounters`, each operation one short transaction (run in a thread, so a worker that holds the file's lock a
    moment never stalls another's event loop). The file holds token ids and numbers, never questions.
    """

    shared = True

    def __init__(self, path: Path, *, lease_s: float = 10.0, timeout_s: float = 5.0):
        super().__init__()
        self.path = path
        self.lease_s = lease_s
        self.renew_every_s = lease_s / 3
        self.timeout_s = timeout_s
        #: Names this process's leases with a random part, so two workers never take the same member.
        self.worker = secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def __str__(self) -> str:
        return "the workers' shared counters file"

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")  # counters need no durability: a restart starts them afresh
            conn.execute(
                "CREATE TABLE IF NOT EXISTS slots (name TEXT, lease TEXT, until REAL, PRIMARY KEY (name, lease))"
            )
            conn.execute("CREATE TABLE IF NOT EXISTS buckets (key TEXT PRIMARY KEY, level REAL, last REAL)")
            self._conn = conn
        return self._conn

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                conn = self._db()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    out = work(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                msg = f"The workers' shared counters cannot be used ({exc}): check the data dir's disk and modes."
                raise BackendUnavailableError(msg) from None
            return out

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._transaction, work)

    async def take(self, name: str, cap: int) -> str | None:
        lease = f"{self.worker}:{next(self._ids)}"

        def acquire(conn: sqlite3.Connection) -> bool:
            now = time.time()
            conn.execute("DELETE FROM slots WHERE name = ? AND until < ?", (name, now))
            (held,) = conn.execute("SELECT COUNT(*) FROM slots WHERE name = ?", (name,)).fetchone()
            if held >= cap:
                return False
            conn.execute("INSERT INTO slots VALUES (?, ?, ?)", (name, lease, now + self.lease_s))
            return True

        if not await self._run(acquire):
            return None
        self._hold(name, lease)
        return lease

    async def give_back(self, name: str, lease: str) -> None:
        self._forget(name, lease)
        try:
            await self._run(lambda conn: conn.execute("DELETE FROM slots WHERE name = ? AND lease = ?", (name, lease)))
        except BackendUnavailableError as exc:
            logger.warning("Could not give back a slot of %s (%s): it frees itself within %.0f s", name, exc,
                           self.lease_s)

    async def held(self, name: str) -> int:
        def count(conn: sqlite3.Connection) -> int:
            conn.execute("DELETE FROM slots WHERE name = ? AND until < ?", (name, time.time()))
            return int(conn.execute("SELECT COUNT(*) FROM slots WHERE name = ?", (name,)).fetchone()[0])

        return await self._run(count)

    async def rate(self, key: str, per_minute: float, burst: int) -> float:
        def bucket(conn: sqlite3.Connection) -> float:
            row = conn.execute("SELECT level, last FROM buckets WHERE key = ?", (key,)).fetchone()
            buckets = {key: (float(row[0]), float(row[1]))} if row else {}
            wait = bucket_wait(buckets, key, per_minute, burst, time.time())
            level, last = buckets[key]
            conn.execute("INSERT OR REPLACE INTO buckets VALUES (?, ?, ?)", (key, level, last))
            return wait

        return await self._run(bucket)

    async def renew(self) -> None:
        """Push out the end of every lease this worker holds."""
        leases = [(name, lease) for name, held in list(self._held.items()) for lease in list(held)]
        if leases:
            until = time.time() + self.lease_s
            await self._run(lambda conn: conn.executemany(
                "UPDATE slots SET until = ? WHERE name = ? AND lease = ?", [(until, n, le) for n, le in leases]
            ))

    async def start(self) -> None:
        self._start_renewing()

    async def close(self) -> None:
        await self._stop_renewing_and_give_back()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def counters_for(settings: RedisSettings, *, shared_file: Path | None = None) -> Counters:
    """Redis counters when a URL is configured; else the workers' shared file when `shared_file` is given (more than
    one worker process); else this process's own."""
    if settings.url is not None:
        return RedisCounters(url=settings.url.get_secret_value(), prefix=settings.prefix, lease_s=settings.lease_s)
    if shared_file is not None:
        return FileCounters(shared_file, lease_s=settings.lease_s)
    return LocalCounters()
