"""Connection counts over several workers (Redis) and in one process."""

import asyncio
import uuid

import pytest

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
    c._task.cancel()  # simulate a crash: heartbeats stop, fields stay
    deadline = asyncio.get_running_loop().time() + 10
    while await a.total(key) != 2 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert await a.total(key) == 2
    await a.stop()
