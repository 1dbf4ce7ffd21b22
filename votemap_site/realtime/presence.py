"""Connection counts (viewers, room members, players online) over all workers.

Each worker counts its own connections per key. Without Redis that local count
is the total. With Redis every worker keeps its count in a hash field
(`<prefix>presence:<key>` -> {worker id: count}, prefix REDIS_KEY_PREFIX) and heartbeats in a sorted set, so
the total is the sum over live workers and a crashed worker's count stops
counting once its heartbeat is stale. Local counts are the source of truth for
this worker; Redis holds a rebuildable copy. With RabbitMQ and no Redis,
PostgreSQL holds the same copy (PostgresPresence).
"""

import logging
import time
import uuid
from collections import Counter
from typing import Protocol

from .ticker import Ticker

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

    def __init__(self, *, heartbeat: float) -> None:
        super().__init__()
        self.worker_id = uuid.uuid4().hex
        self.heartbeat = heartbeat
        self._ticker = Ticker(name="presence-heartbeat", interval=heartbeat, callback=self._heartbeat, always=True)
        self._keys: set[str] = set()

    async def _heartbeat(self) -> None:
        raise NotImplementedError

    async def _write(self, key: str, count: int) -> None:
        raise NotImplementedError

    async def _publish(self, key: str) -> None:
        self._keys.add(key)
        try:
            await self._write(key, self._counts.get(key, 0))
        except Exception:
            log.warning("presence update failed for %s", key, exc_info=True)

    async def join(self, key: str) -> None:
        await super().join(key)
        await self._publish(key)

    async def leave(self, key: str) -> None:
        await super().leave(key)
        await self._publish(key)


class RedisPresence(SharedPresence):
    def __init__(self, redis_url: str, *, heartbeat: float = 5.0, prefix: str = "vm:") -> None:
        super().__init__(heartbeat=heartbeat)
        self._prefix = prefix + "presence:"
        self._workers_key = prefix + "presence:workers"
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(redis_url, decode_responses=True)

    async def start(self) -> None:
        await super().start()
        await self._beat()
        self._ticker.start()

    async def stop(self) -> None:
        await self._ticker.stop()
        try:
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

    async def _heartbeat(self) -> None:
        try:
            await self._beat()
            # Re-assert our counts: Redis may have restarted and lost them.
            pipe = self._redis.pipeline()
            for key in self._keys:
                pipe.hset(self._prefix + key, self.worker_id, self._counts.get(key, 0))
            await pipe.execute()
        except Exception:
            log.warning("presence heartbeat failed", exc_info=True)

    async def _write(self, key: str, count: int) -> None:
        await self._redis.hset(self._prefix + key, self.worker_id, count)

    async def total(self, key: str) -> int:
        try:
            counts = await self._redis.hgetall(self._prefix + key)
            alive = set(
                await self._redis.zrangebyscore(self._workers_key, time.time() - 3 * self.heartbeat, "+inf")
            )
        except Exception:
            log.warning("presence total fell back to the local count for %s", key, exc_info=True)
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

    def __init__(self, conninfo: str, *, heartbeat: float = 5.0) -> None:
        from .shared import PostgresConnection

        super().__init__(heartbeat=heartbeat)
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
            await self._beat()
        except Exception:
            log.warning("presence heartbeat failed", exc_info=True)

    async def _write(self, key: str, count: int) -> None:
        await self._db.execute(
            "INSERT INTO realtime_presence (worker, key, count, beat) VALUES (%s, %s, %s, now())"
            " ON CONFLICT (worker, key) DO UPDATE SET count = EXCLUDED.count, beat = now()",
            [self.worker_id, key, count],
        )

    async def total(self, key: str) -> int:
        try:
            rows = await self._db.execute(
                "SELECT coalesce(sum(count), 0) FROM realtime_presence WHERE key = %s AND worker <> %s"
                " AND count > 0 AND beat > now() - make_interval(secs => %s)",
                [key, self.worker_id, 3 * self.heartbeat],
            )
        except Exception:
            log.warning("presence total fell back to the local count for %s", key, exc_info=True)
            return self.local(key)
        return self.local(key) + int(rows[0][0])
