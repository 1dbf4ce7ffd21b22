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
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any, Protocol

from django.conf import settings

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


class RedisOrderLock:
    """redis-py's lock with an expiry: a process killed while holding it delays
    the others by at most `timeout`."""

    def __init__(self, redis_url: str, name: str, *, timeout: float) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(redis_url)
        self._name = name
        self._timeout = timeout
        self._held: Any = None

    async def acquire(self) -> bool:
        lock = self._redis.lock(self._name, timeout=self._timeout, blocking_timeout=self._timeout)
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


def build_order_lock(name: str, *, timeout: float) -> OrderLock | None:
    """The lock `name` shared by every process of the site, or None with one process."""
    backend = shared_state_backend()
    if backend == "redis":
        return RedisOrderLock(settings.REDIS_URL, settings.REDIS_KEY_PREFIX + name, timeout=timeout)
    if backend == "postgres":
        return PostgresOrderLock(postgres_conninfo(), settings.REDIS_KEY_PREFIX + name, timeout=timeout)
    return None
