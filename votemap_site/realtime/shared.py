"""Where state shared by several processes lives, besides the database's own tables.

- One process (no REDIS_URL, no MESSAGE_QUEUE_URL): nothing is shared; the
  local counts and locks are the truth.
- REDIS_URL: Redis holds the presence counts and the locks, whatever carries
  the fan-out.
- MESSAGE_QUEUE_URL (RabbitMQ) without REDIS_URL: PostgreSQL holds them (the
  settings refuse SQLite there), so a RabbitMQ deployment needs no Redis.

`OrderLock` is a short lock that several processes take in turn: the vote
map holds one from before a batch's commit until its delta is published
(dashboard/sockets.py), so that deltas enter the queue in version order. It
is only about the order in which clients receive deltas, never about the data:
a process that cannot get it within `timeout` goes on without it.

Faults: every call to the shared state has a short timeout
(settings.SOCKETIO_SHARED_TIMEOUT_SECONDS) and goes through the process's one
shared-state circuit breaker (breaker.py, built by server.py): while it is
open, locks are not taken (`GuardedOrderLock.acquire` says False at once) and
presence falls back to local counts (presence.py), so an unreachable Redis or
PostgreSQL costs a few timeouts, not one per vote batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any, Protocol

from django.conf import settings

from .breaker import BreakerOpen, CircuitBreaker

log = logging.getLogger("votemap_site.realtime")

# Connecting, and any statement, give up after this long: a slow database must
# not hold presence updates or the map's ticks for longer.
PG_TIMEOUT_SECONDS = 2
# After a failure, calls fail at once for this long instead of each waiting
# for a connection timeout (a burst of connections while the database is down).
PG_RETRY_SECONDS = 1.0


def shared_state_backend() -> str:
    """"redis", "postgres" or "local" for the current settings."""
    if settings.REDIS_URL:
        return "redis"
    if settings.MESSAGE_QUEUE_URL:
        return "postgres"
    return "local"


def postgres_conninfo() -> str:
    """A libpq connection string for the site's database (settings.DATABASES)."""
    from psycopg.conninfo import make_conninfo

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("shared state in the database needs PostgreSQL")
    params = {"dbname": db.get("NAME"), "user": db.get("USER"), "password": db.get("PASSWORD"),
              "host": db.get("HOST"), "port": str(db.get("PORT") or "")}
    params.update({k: v for k, v in (db.get("OPTIONS") or {}).items() if isinstance(v, (str, int))})
    return make_conninfo(**{k: v for k, v in params.items() if v not in (None, "")})


class PostgresConnection:
    """One autocommit psycopg connection of its own, used by one task at a time.

    Reconnects on the next call after an error, with short timeouts, and fails
    fast for PG_RETRY_SECONDS after a failure."""

    def __init__(self, conninfo: str, *, lock_timeout: float | None = None) -> None:
        self._conninfo = conninfo
        self._lock_timeout = lock_timeout
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._down_until = 0.0

    async def _connection(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            if time.monotonic() < self._down_until:
                raise ConnectionError("PostgreSQL was unavailable a moment ago")
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, connect_timeout=PG_TIMEOUT_SECONDS)
                await conn.execute(f"SET statement_timeout = {int(PG_TIMEOUT_SECONDS * 1000)}")
                if self._lock_timeout is not None:
                    await conn.execute(f"SET lock_timeout = {max(1, int(self._lock_timeout * 1000))}")
            except Exception:
                self._down_until = time.monotonic() + PG_RETRY_SECONDS
                raise
            self._conn = conn
        return self._conn

    async def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        async with self._lock:
            conn = await self._connection()
            try:
                cursor = await conn.execute(sql, params)
                return await cursor.fetchall() if cursor.description else []
            except BaseException as exc:
                import psycopg

                # A failed or interrupted statement may leave the session in any
                # state (a lock half taken): start again on a new connection.
                if not isinstance(exc, psycopg.errors.LockNotAvailable):
                    await self._discard()
                raise

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:
                pass

    async def close(self) -> None:
        async with self._lock:
            await self._discard()


class OrderLock(Protocol):
    async def acquire(self) -> bool: ...
    async def release(self) -> None: ...
    async def close(self) -> None: ...


def redis_client(url: str, *, timeout: float, decode_responses: bool = False) -> Any:
    """A redis-py asyncio client whose commands and connects give up after
    `timeout` seconds, without redis-py's own retries (its default retries three
    times with backoff: a caller's short timeout would become several)."""
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return aioredis.from_url(url, decode_responses=decode_responses, socket_timeout=timeout,
                             socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))


ORDER_LOCK_POLL_SECONDS = 0.005


class RedisOrderLock:
    """redis-py's lock with an expiry: a process killed while holding it delays
    the others by at most `timeout`; a wait for it ends after `wait`."""

    def __init__(self, redis_url: str, name: str, *, timeout: float, wait: float | None = None,
                 call_timeout: float = 0.25) -> None:
        self._redis = redis_client(redis_url, timeout=call_timeout)
        self._name = name
        self._timeout = timeout
        self._wait = timeout if wait is None else wait
        self._held: Any = None

    async def acquire(self) -> bool:
        # redis-py polls a held lock every `sleep` seconds (0.1 by default): a
        # commit holds it for a few milliseconds, so a 100 ms poll added up to a
        # tick of latency to every other worker's batch (bench/cluster). Polling
        # every 5 ms costs a waiting worker at most 200 SET NX calls a second.
        lock = self._redis.lock(self._name, timeout=self._timeout, blocking_timeout=self._wait,
                                sleep=ORDER_LOCK_POLL_SECONDS)
        if not await lock.acquire():
            return False
        self._held = lock
        return True

    async def release(self) -> None:
        lock, self._held = self._held, None
        if lock is not None:
            await lock.release()

    async def close(self) -> None:
        await self._redis.aclose()


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock (locks are per database)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


class PostgresOrderLock:
    """A session-level PostgreSQL advisory lock on a connection of its own.

    Session-level, not `pg_advisory_xact_lock`: a transaction-level lock ends
    at the commit, but the order to keep is that of commit AND publish, so the
    lock must outlive the transaction until the delta is published. A process
    that dies while holding it loses its connection, and PostgreSQL frees the
    lock at once; a process that hangs holding it makes the others wait at most
    `timeout` (lock_timeout) before they go on without it."""

    def __init__(self, conninfo: str, name: str, *, timeout: float) -> None:
        self._db = PostgresConnection(conninfo, lock_timeout=timeout)
        self._key = advisory_key(name)
        self._held = False

    async def acquire(self) -> bool:
        import psycopg

        try:
            await self._db.execute("SELECT pg_advisory_lock(%s)", [self._key])
        except psycopg.errors.LockNotAvailable:
            return False
        self._held = True
        return True

    async def release(self) -> None:
        if self._held:
            self._held = False
            await self._db.execute("SELECT pg_advisory_unlock(%s)", [self._key])

    async def close(self) -> None:
        await self._db.close()


class GuardedOrderLock:
    """An OrderLock behind the shared-state breaker, each call bounded in time.

    `acquire` is True when held, False when not (busy for longer than the
    lock's wait, or the breaker is open, or the store failed: the caller then
    goes on without it, as it always could). Only a failure of the store
    counts against the breaker; a lock that is merely busy does not."""

    def __init__(self, lock: OrderLock, *, breaker: CircuitBreaker, wait: float, call_timeout: float) -> None:
        self._lock = lock
        self._breaker = breaker
        self._bound = wait + call_timeout  # the lock's own wait, and one command's timeout on top
        self._call_timeout = call_timeout
        self.skipped = 0  # acquisitions not attempted or failed (tests, /healthz)

    async def acquire(self) -> bool:
        try:
            return await self._breaker.call(self._lock.acquire, timeout=self._bound)
        except BreakerOpen:
            self.skipped += 1
            return False
        except Exception as exc:
            self.skipped += 1
            log.info("commit-order lock unavailable (%s: %s); going on without it", type(exc).__name__, exc)
            return False

    async def release(self) -> None:
        try:
            await self._breaker.call(self._lock.release, timeout=self._call_timeout)
        except Exception as exc:  # it expires by itself (Redis) or with its connection (PostgreSQL)
            log.info("commit-order lock release failed (%s: %s)", type(exc).__name__, exc)

    async def close(self) -> None:
        await self._lock.close()


def build_order_lock(name: str, *, timeout: float, wait: float | None = None,
                     breaker: CircuitBreaker | None = None) -> OrderLock | None:
    """The lock `name` shared by every process of the site, or None with one process.

    `timeout`: how long a holder that died delays the others (Redis expiry);
    `wait`: how long an acquisition waits for a live holder (default `timeout`)."""
    backend = shared_state_backend()
    wait = timeout if wait is None else wait
    call_timeout = settings.SOCKETIO_SHARED_TIMEOUT_SECONDS
    lock: OrderLock
    if backend == "redis":
        lock = RedisOrderLock(settings.REDIS_URL, settings.REDIS_KEY_PREFIX + name, timeout=timeout,
                              wait=wait, call_timeout=call_timeout)
    elif backend == "postgres":
        lock = PostgresOrderLock(postgres_conninfo(), settings.REDIS_KEY_PREFIX + name, timeout=wait)
    else:
        return None
    return GuardedOrderLock(lock, breaker=breaker or CircuitBreaker(name="shared-state"), wait=wait,
                            call_timeout=call_timeout)
