"""Leases (votemap_site/realtime/lease.py) in Redis and in PostgreSQL: one owner at
a time, renew and release only by the owner, expiry after the TTL, and a blob
only the owner writes. The same tests run on both stores."""

import asyncio
import uuid

import pytest

from votemap_site.realtime.lease import PostgresLeaseStore, RedisLeaseStore

pytestmark = pytest.mark.services

TTL = 0.5


@pytest.fixture(params=["redis", "postgres"])
def make_store(request):
    """A factory of stores (each one like a process's) on one backend."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        prefix = f"leasetest{uuid.uuid4().hex[:8]}:"

        def make():
            return RedisLeaseStore(url, prefix=prefix)
    else:
        from psycopg.conninfo import make_conninfo

        conninfo = make_conninfo(request.getfixturevalue("fresh_postgres_database"))

        def make():
            return PostgresLeaseStore(conninfo)
    return make


async def _close(*stores) -> None:
    for store in stores:
        await store.close()


async def test_one_owner_at_a_time_and_renewed_only_by_it(make_store) -> None:
    a, b = make_store(), make_store()
    name = f"arena-{uuid.uuid4().hex}"
    try:
        assert await a.claim(name, owner="A", ttl=TTL) == "A"
        assert await b.claim(name, owner="B", ttl=TTL) == "A"
        assert await a.claim(name, owner="A", ttl=TTL) == "A"  # a claim by the owner renews
        assert await a.owner(name) == "A"
        assert await b.renew([name], owner="B", ttl=TTL) == set()
        for _ in range(4):  # renewed for longer than a TTL: still A's
            assert await a.renew([name], owner="A", ttl=TTL) == {name}
            await asyncio.sleep(TTL / 2)
        assert await b.claim(name, owner="B", ttl=TTL) == "A"
    finally:
        await _close(a, b)


async def test_an_unrenewed_lease_expires_and_another_takes_it(make_store) -> None:
    a, b = make_store(), make_store()
    name = f"arena-{uuid.uuid4().hex}"
    try:
        assert await a.claim(name, owner="A", ttl=TTL) == "A"
        await asyncio.sleep(TTL * 2.5)
        assert await a.owner(name) is None
        assert await b.claim(name, owner="B", ttl=TTL) == "B"
        # A, back after its lease was taken, holds nothing and cannot renew it.
        assert await a.renew([name], owner="A", ttl=TTL) == set()
        assert await a.claim(name, owner="A", ttl=TTL) == "B"
    finally:
        await _close(a, b)


async def test_a_lease_renewed_after_expiry_that_nobody_took_is_still_the_owners(make_store) -> None:
    a = make_store()
    name = f"arena-{uuid.uuid4().hex}"
    try:
        assert await a.claim(name, owner="A", ttl=TTL) == "A"
        await asyncio.sleep(TTL * 2.5)
        assert await a.renew([name], owner="A", ttl=TTL) == {name}
        assert await a.owner(name) == "A"
    finally:
        await _close(a)


async def test_release_frees_the_lease_at_once_and_only_for_its_owner(make_store) -> None:
    a, b = make_store(), make_store()
    name, other = f"arena-{uuid.uuid4().hex}", f"arena-{uuid.uuid4().hex}"
    try:
        assert await a.claim(name, owner="A", ttl=60) == "A"
        assert await b.claim(other, owner="B", ttl=60) == "B"
        await b.release([name], owner="B")  # not B's: untouched
        assert await a.owner(name) == "A"
        await a.release([name, other], owner="A")
        assert await a.owner(name) is None
        assert await b.owner(other) == "B"
        assert await b.claim(name, owner="B", ttl=60) == "B"
    finally:
        await _close(a, b)


async def test_only_the_owner_writes_the_blob_and_it_outlives_the_lease(make_store) -> None:
    a, b = make_store(), make_store()
    name = f"arena-{uuid.uuid4().hex}"
    try:
        assert await a.load(name) is None
        assert await a.claim(name, owner="A", ttl=60) == "A"
        assert await a.save(name, b"\x00first", owner="A")
        assert not await b.save(name, b"second", owner="B")
        assert await b.load(name) == b"\x00first"
        await a.release([name], owner="A")
        assert not await a.save(name, b"after release", owner="A")
        assert await b.claim(name, owner="B", ttl=60) == "B"
        assert await b.load(name) == b"\x00first"  # what the next owner restores
        assert await b.save(name, b"second", owner="B")
        assert await a.load(name) == b"second"
    finally:
        await _close(a, b)


async def test_concurrent_claims_have_one_winner(make_store) -> None:
    stores = [make_store() for _ in range(5)]
    name = f"arena-{uuid.uuid4().hex}"
    try:
        owners = await asyncio.gather(*(s.claim(name, owner=f"P{i}", ttl=60) for i, s in enumerate(stores)))
        assert len(set(owners)) == 1 and owners[0] in {f"P{i}" for i in range(5)}
    finally:
        await _close(*stores)
