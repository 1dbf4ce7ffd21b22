"""Connection counts over several workers (Redis) and in one process."""

import asyncio
import uuid

import pytest

from tests.helpers import async_wait_until
from votemap_site.realtime.presence import LocalPresence, RedisPresence


async def test_local_presence_counts_and_never_goes_negative() -> None:
    presence = LocalPresence()
    await presence.start()
    await presence.join("k")
    await presence.join("k")
    await presence.leave("k")
    await presence.leave("k")
    await presence.leave("k")
    assert await presence.total("k") == 0
    await presence.join("k")
    assert await presence.total("k") == 1


@pytest.mark.services
async def test_redis_presence_sums_live_workers(redis_url) -> None:
    key = f"test-{uuid.uuid4().hex}"
    a = RedisPresence(redis_url, heartbeat=0.2)
    b = RedisPresence(redis_url, heartbeat=0.2)
    await a.start()
    await b.start()
    try:
        await a.join(key)
        await a.join(key)
        await b.join(key)
        assert await a.total(key) == 3
        assert await b.total(key) == 3
        await b.leave(key)
        assert await a.total(key) == 2
        assert a.local(key) == 2 and b.local(key) == 0
    finally:
        await b.stop()
    # A worker that stopped cleanly removed its fields; a crashed one (no
    # heartbeats) stops counting once its heartbeat is stale.
    c = RedisPresence(redis_url, heartbeat=0.2)
    await c.start()
    await c.join(key)
    assert await a.total(key) == 3
    await c._ticker.stop()  # simulate a crash: heartbeats stop, fields stay
    await asyncio.sleep(0.9)
    assert await a.total(key) == 2
    await a.stop()


@pytest.mark.services
async def test_a_live_worker_keeps_renewing_its_heartbeat(redis_url) -> None:
    key = f"test-{uuid.uuid4().hex}"
    prefix = f"test-{uuid.uuid4().hex}:"
    worker = RedisPresence(redis_url, heartbeat=0.2, prefix=prefix)
    await worker.start()
    try:
        await worker.join(key)
        workers_key = prefix + "presence:workers"
        first = await worker._redis.zscore(workers_key, worker.worker_id)

        async def renewed_twice() -> bool:
            score = await worker._redis.zscore(workers_key, worker.worker_id)
            return score is not None and score >= first + 0.4

        # Well past the 3-heartbeat staleness horizon of the first beat, it still counts.
        await async_wait_until(renewed_twice, message="the heartbeat renewing the worker")
        assert await worker.total(key) == 1
        # Its counts are re-asserted too: Redis may have lost them.
        await worker._redis.delete(prefix + "presence:" + key)
        await async_wait_until(lambda: worker._redis.hget(prefix + "presence:" + key, worker.worker_id),
                               message="the count written again")
    finally:
        await worker.stop()
