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
    deadline = asyncio.get_running_loop().time() + 10
    while await a.total(key) != 2 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert await a.total(key) == 2
    await a.stop()


@pytest.fixture
def presence_conninfo(fresh_postgres_database) -> str:
    import psycopg

    return psycopg.conninfo.make_conninfo(fresh_postgres_database)


@pytest.mark.services
async def test_postgres_presence_sums_live_workers(presence_conninfo) -> None:
    import psycopg

    from votemap_site.realtime.presence import PostgresPresence

    key = "/chat:cats"
    a = PostgresPresence(presence_conninfo, heartbeat=1.0)
    b = PostgresPresence(presence_conninfo, heartbeat=1.0)
    await a.start()
    await b.start()
    try:
        await a.join(key)
        await a.join(key)
        await b.join(key)
        await b.join("/map-dashboard")
        assert await a.total(key) == 3
        assert await b.total(key) == 3
        assert await a.total("/map-dashboard") == 1
        await b.leave(key)
        await b.leave(key)  # never below zero
        assert await a.total(key) == 2
        assert a.local(key) == 2 and b.local(key) == 0
    finally:
        await b.stop()
    # A worker that stopped cleanly removed its rows.
    assert await a.total("/map-dashboard") == 0

    # A crashed worker (no heartbeats; its rows stay) stops counting once its
    # heartbeat is older than three heartbeats, and its rows are deleted once
    # they are older than STALE_HEARTBEATS (the beats are set back in time here).
    c = PostgresPresence(presence_conninfo, heartbeat=1.0)
    await c.start()
    await c.join(key)
    await c._ticker.stop()
    assert await a.total(key) == 3

    async def set_beat_back(seconds: float) -> None:
        async with await psycopg.AsyncConnection.connect(presence_conninfo, autocommit=True) as conn:
            await conn.execute("UPDATE realtime_presence SET beat = now() - make_interval(secs => %s)"
                               " WHERE worker = %s", [seconds, c.worker_id])

    async def rows_of(worker: str) -> int:
        async with await psycopg.AsyncConnection.connect(presence_conninfo) as conn:
            cursor = await conn.execute("SELECT count(*) FROM realtime_presence WHERE worker = %s", [worker])
            return (await cursor.fetchone())[0]

    await set_beat_back(3.5)
    assert await a.total(key) == 2
    assert await c.total(key) == 3  # the crashed one still counts itself: its local count
    assert await rows_of(c.worker_id) == 1
    await set_beat_back(PostgresPresence.STALE_HEARTBEATS * 1.0 + 1)
    deadline = asyncio.get_running_loop().time() + 10
    while await rows_of(c.worker_id):
        assert asyncio.get_running_loop().time() < deadline, "a crashed worker's rows were never deleted"
        await asyncio.sleep(0.05)
    assert await rows_of(a.worker_id) == 1  # the live worker's own row is kept by its heartbeats
    await a.stop()
    await c._db.close()


@pytest.mark.services
async def test_postgres_presence_falls_back_to_local_counts() -> None:
    from votemap_site.realtime.presence import PostgresPresence

    presence = PostgresPresence("host=127.0.0.1 port=9 dbname=none connect_timeout=1", heartbeat=0.2)
    await presence.start()
    try:
        await presence.join("k")
        assert await presence.total("k") == 1
    finally:
        await presence.stop()


@pytest.mark.services
async def test_postgres_order_lock_is_taken_in_turn_and_freed_by_a_dead_holder(presence_conninfo) -> None:
    from votemap_site.realtime.shared import PostgresOrderLock

    first = PostgresOrderLock(presence_conninfo, "map:commit", timeout=0.3)
    second = PostgresOrderLock(presence_conninfo, "map:commit", timeout=0.3)
    other = PostgresOrderLock(presence_conninfo, "another", timeout=0.3)
    try:
        assert await first.acquire()
        assert not await second.acquire()  # held elsewhere: gives up after the timeout
        assert await other.acquire()  # another name is another lock
        await first.release()
        assert await second.acquire()
        # The holder's connection dies (its process was killed): the lock is free at once.
        await second.close()
        assert await first.acquire()
    finally:
        for lock in (first, second, other):
            await lock.close()
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
