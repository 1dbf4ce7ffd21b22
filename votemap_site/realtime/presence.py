"""Connection counts (viewers, room members, players online) over all workers.

Each worker counts its own connections per key. Without Redis that local count
is the total. With Redis every worker keeps its count in a hash field
(`<prefix>presence:<key>` -> {worker id: count}, prefix REDIS_KEY_PREFIX) and heartbeats in a sorted set, so
the total is the sum over live workers and a crashed worker's count stops
counting once its heartbeat is stale. Local counts are the source of truth for
this worker; Redis holds a rebuildable copy. With RabbitMQ and no Redis,
PostgreSQL holds the same copy (PostgresPresence).

Faults: every call to Redis or PostgreSQL goes through the shared-state
circuit breaker (breaker.py) with a short timeout (`call_timeout`). A failed or
refused join/leave only leaves the copy stale; a total that cannot be read is
the local count. When the breaker closes again the heartbeat runs at once and
rewrites this worker's counts, so the totals (`viewers`, `members`) heal
within a tick of the store coming back, and a crashed worker's counts still
stop counting after three missed heartbeats.
"""

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from .breaker import CLOSED, BreakerOpen, CircuitBreaker
from .ticker import Ticker

T = TypeVar("T")

log = logging.getLogger(__name__)


class Presence(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def join(self, key: str) -> None: ...
    async def leave(self, key: str) -> None: ...
    async def total(self, key: str) -> int: ...
    def local(self, key: str) -> int: ...


class LocalPresence:
    """One process: the local counts are the totals."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    async def start(self) -> None:
        self._counts.clear()

    async def stop(self) -> None:
        pass

    async def join(self, key: str) -> None:
        self._counts[key] += 1

    async def leave(self, key: str) -> None:
        if self._counts[key] > 0:
            self._counts[key] -= 1
        if self._counts[key] == 0:
            del self._counts[key]

    async def total(self, key: str) -> int:
        return self._counts.get(key, 0)

    def local(self, key: str) -> int:
        return self._counts.get(key, 0)


class SharedPresence(LocalPresence):
    """Local counts plus this worker's count per key written to shared storage
    (`_write`) on every join and leave; a failed write is logged and repaired by
    the next heartbeat, which rewrites every key in `_keys`."""

    def __init__(self, *, heartbeat: float, breaker: CircuitBreaker | None = None,
                 call_timeout: float = 0.25) -> None:
        super().__init__()
        self.worker_id = uuid.uuid4().hex
        self.heartbeat = heartbeat
        self.call_timeout = call_timeout
        self.breaker = breaker or CircuitBreaker(name="shared-state")
        self.breaker.on_change.append(self._breaker_changed)
        self._ticker = Ticker(name="presence-heartbeat", interval=heartbeat, callback=self._heartbeat, always=True)
        self._keys: set[str] = set()
        self._republish: asyncio.Task[None] | None = None
        self.republished = 0  # heartbeats run because the breaker closed (tests)

    async def _heartbeat(self) -> None:
        raise NotImplementedError

    async def _write(self, key: str, count: int) -> None:
        raise NotImplementedError

    async def _guarded(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call()` through the breaker, within `call_timeout` (raises when refused or failed)."""
        return await self.breaker.call(call, timeout=self.call_timeout)

    def _breaker_changed(self, breaker: CircuitBreaker, old: str, new: str) -> None:
        if new != CLOSED:
            if old == CLOSED:
                log.warning("shared state (%s) is failing; counts are this worker's own until it answers",
                            breaker.name)
            return
        log.warning("shared state (%s) answers again; re-publishing this worker's counts", breaker.name)
        if self._republish is None or self._republish.done():
            try:
                self._republish = asyncio.get_running_loop().create_task(self._republish_counts())
            except RuntimeError:  # no loop (a test driving the breaker by hand)
                pass

    async def _republish_counts(self) -> None:
        self.republished += 1
        await self._heartbeat()

    async def _publish(self, key: str) -> None:
        self._keys.add(key)
        try:
            await self._guarded(lambda: self._write(key, self._counts.get(key, 0)))
        except BreakerOpen:
            pass  # the heartbeat after the breaker closes rewrites it
        except Exception as exc:
            log.info("presence update failed for %s (%s: %s)", key, type(exc).__name__, exc)

    async def join(self, key: str) -> None:
        await super().join(key)
        await self._publish(key)

    async def leave(self, key: str) -> None:
        await super().leave(key)
        await self._publish(key)


class RedisPresence(SharedPresence):
    def __init__(self, redis_url: str, *, heartbeat: float = 5.0, prefix: str = "vm:",
                 breaker: CircuitBreaker | None = None, call_timeout: float = 0.25) -> None:
        from .shared import redis_client

        super().__init__(heartbeat=heartbeat, breaker=breaker, call_timeout=call_timeout)
        self._prefix = prefix + "presence:"
        self._workers_key = prefix + "presence:workers"
        self._redis = redis_client(redis_url, timeout=call_timeout, decode_responses=True)

    async def start(self) -> None:
        await super().start()
        try:
            await self._guarded(self._beat)
        except Exception:  # Redis down at start-up: the heartbeat catches up
            log.warning("presence: Redis did not answer at start-up", exc_info=True)
        self._ticker.start()

    async def stop(self) -> None:
        await self._ticker.stop()
        try:
            async with asyncio.timeout(self.call_timeout * 4):
                pipe = self._redis.pipeline()
                for key in self._keys:
                    pipe.hdel(self._prefix + key, self.worker_id)
                pipe.zrem(self._workers_key, self.worker_id)
                await pipe.execute()
        except Exception:  # shutting down: Redis may already be gone
            log.warning("could not remove this worker's presence from Redis", exc_info=True)
        await self._redis.aclose()

    async def _beat(self) -> None:
        await self._redis.zadd(self._workers_key, {self.worker_id: time.time()})

    async def _rewrite(self) -> None:
        await self._beat()
        # Re-assert our counts: Redis may have restarted and lost them.
        pipe = self._redis.pipeline()
        for key in self._keys:
            pipe.hset(self._prefix + key, self.worker_id, self._counts.get(key, 0))
        await pipe.execute()

    async def _heartbeat(self) -> None:
        try:
            await self._guarded(self._rewrite)
        except BreakerOpen:
            pass
        except Exception as exc:
            log.info("presence heartbeat failed (%s: %s)", type(exc).__name__, exc)

    async def _write(self, key: str, count: int) -> None:
        await self._redis.hset(self._prefix + key, self.worker_id, count)

    async def _read(self, key: str) -> tuple[dict[str, str], set[str]]:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(self._prefix + key)
        pipe.zrangebyscore(self._workers_key, time.time() - 3 * self.heartbeat, "+inf")
        counts, alive = await pipe.execute()
        return counts, set(alive)

    async def total(self, key: str) -> int:
        try:
            counts, alive = await self._guarded(lambda: self._read(key))
        except BreakerOpen:
            return self.local(key)
        except Exception as exc:
            log.info("presence total fell back to the local count for %s (%s: %s)", key,
                     type(exc).__name__, exc)
            return self.local(key)
        alive.add(self.worker_id)
        return sum(int(v) for worker, v in counts.items() if worker in alive and int(v) > 0)


class PostgresPresence(SharedPresence):
    """The same sums as RedisPresence, kept in PostgreSQL's `realtime_presence`
    table (votemap_site/models.py): for RabbitMQ deployments without Redis.

    One row per (worker, key) with this worker's count and its last heartbeat
    (the database's clock). The total is this worker's local count plus the
    rows of the other workers that beat within three heartbeats; rows nobody
    refreshed for STALE_HEARTBEATS heartbeats (a crashed worker's) are deleted
    by whichever worker beats next. Every heartbeat rewrites this worker's
    counts, so a database restored from a backup or a lost update is repaired
    within one heartbeat."""

    STALE_HEARTBEATS = 20

    def __init__(self, conninfo: str, *, heartbeat: float = 5.0, breaker: CircuitBreaker | None = None,
                 call_timeout: float = 0.25) -> None:
        from .shared import PostgresConnection

        super().__init__(heartbeat=heartbeat, breaker=breaker, call_timeout=call_timeout)
        self._db = PostgresConnection(conninfo)

    async def start(self) -> None:
        await super().start()
        self._ticker.start()

    async def stop(self) -> None:
        await self._ticker.stop()
        try:
            await self._db.execute("DELETE FROM realtime_presence WHERE worker = %s", [self.worker_id])
        except Exception:  # shutting down: the database may already be gone
            log.warning("could not remove this worker's presence from PostgreSQL", exc_info=True)
        await self._db.close()

    async def _beat(self) -> None:
        counts = {key: self._counts.get(key, 0) for key in self._keys}
        live = [key for key, count in counts.items() if count > 0]
        if live:
            await self._db.execute(
                "INSERT INTO realtime_presence (worker, key, count, beat)"
                " SELECT %s, k, c, now() FROM unnest(%s::text[], %s::int[]) AS t(k, c)"
                " ON CONFLICT (worker, key) DO UPDATE SET count = EXCLUDED.count, beat = now()",
                [self.worker_id, live, [counts[key] for key in live]],
            )
        # Keys nobody is connected to here any more: no row, and forgotten, so
        # that the keys kept stay those in use.
        gone = [key for key, count in counts.items() if count == 0]
        if gone:
            await self._db.execute(
                "DELETE FROM realtime_presence WHERE worker = %s AND key = ANY(%s::text[]) AND count = 0",
                [self.worker_id, gone])
            self._keys.difference_update(key for key in gone if self._counts.get(key, 0) == 0)
        await self._db.execute(
            "DELETE FROM realtime_presence WHERE beat < now() - make_interval(secs => %s)",
            [self.STALE_HEARTBEATS * self.heartbeat])

    async def _heartbeat(self) -> None:
        try:
            # Three statements: each within the call timeout.
            await self.breaker.call(self._beat, timeout=3 * self.call_timeout)
        except BreakerOpen:
            pass
        except Exception as exc:
            log.info("presence heartbeat failed (%s: %s)", type(exc).__name__, exc)

    async def _write(self, key: str, count: int) -> None:
        await self._db.execute(
            "INSERT INTO realtime_presence (worker, key, count, beat) VALUES (%s, %s, %s, now())"
            " ON CONFLICT (worker, key) DO UPDATE SET count = EXCLUDED.count, beat = now()",
            [self.worker_id, key, count],
        )

    async def total(self, key: str) -> int:
        try:
            rows = await self._guarded(lambda: self._db.execute(
                "SELECT coalesce(sum(count), 0) FROM realtime_presence WHERE key = %s AND worker <> %s"
                " AND count > 0 AND beat > now() - make_interval(secs => %s)",
                [key, self.worker_id, 3 * self.heartbeat],
            ))
        except BreakerOpen:
            return self.local(key)
        except Exception as exc:
            log.info("presence total fell back to the local count for %s (%s: %s)", key,
                     type(exc).__name__, exc)
            return self.local(key)
        return self.local(key) + int(rows[0][0])
