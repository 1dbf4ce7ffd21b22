"""Two worker processes (PostgreSQL + Redis) serve one chat: messages, member
counts and trending words agree whichever worker a client is connected to."""

import asyncio

import pytest
import socketio

from tests.conftest import receive_event, start_server_process

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture
def two_workers(fresh_postgres_database, redis_url, tmp_path):
    env = {"DATABASE_URL": fresh_postgres_database, "REDIS_URL": redis_url,
           "SOCKETIO_TRANSPORTS": "websocket", "PRESENCE_HEARTBEAT_SECONDS": "1"}
    workers = [start_server_process(env=env, log_path=tmp_path / f"worker{i}.log") for i in range(2)]
    yield workers
    for worker in workers:
        worker.stop()


async def connect(url: str) -> socketio.AsyncSimpleClient:
    client = socketio.AsyncSimpleClient()
    await client.connect(url, namespace="/chat", transports=["websocket"], wait_timeout=10)
    return client


async def wait_for(client, event, predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"no matching {event!r}"
        payload = await receive_event(client, event, timeout=left)
        if predicate(payload):
            return payload


async def test_two_workers_one_room(two_workers) -> None:
    a, b = two_workers
    alice, bob = await connect(a.url), await connect(b.url)
    try:
        assert (await alice.call("join", {"room": "cats", "nickname": "Alice"}))["ok"]
        assert (await bob.call("join", {"room": "cats"}))["ok"]
        # Both workers count both members.
        await wait_for(alice, "members", lambda p: p["count"] == 2)
        ack = await alice.call("send_message", {"room": "cats", "text": "Pelota pelota parque"})
        assert ack["ok"], ack
        message = ack["data"]["message"]
        assert await wait_for(bob, "message", lambda p: True) == message
        ack = await bob.call("send_message", {"room": "cats", "text": "pelota"})
        assert ack["ok"], ack
        # Each worker counted its own message when storing it and read the
        # other's from the database, with its sender: one word, two senders.
        expected = [("pelota", 2)]
        for client in (alice, bob):
            trending = await wait_for(client, "trending", lambda p: len(p["words"]) == 1)
            assert [(w["word"], w["count"]) for w in trending["words"]] == expected
        scores_a = (await alice.call("join", {"room": "cats"}))["data"]["trending"]["words"]
        scores_b = (await bob.call("join", {"room": "cats"}))["data"]["trending"]["words"]
        assert [w["word"] for w in scores_a] == [w["word"] for w in scores_b]
        await bob.disconnect()
        await wait_for(alice, "members", lambda p: p["count"] == 1)
    finally:
        for client in (alice, bob):
            if client.connected:
                await asyncio.wait_for(client.disconnect(), 5)
