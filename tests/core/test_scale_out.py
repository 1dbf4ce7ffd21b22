"""Two worker processes on PostgreSQL and Redis behave as one site."""

import asyncio

import pytest
import socketio

from tests.conftest import receive_event, start_server_process

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture
def two_workers(fresh_postgres_database, message_queue, tmp_path):
    env = {"DATABASE_URL": fresh_postgres_database, **message_queue,
           "SOCKETIO_TRANSPORTS": "websocket", "LOBBY_STATS_INTERVAL": "0.2",
           "PRESENCE_HEARTBEAT_SECONDS": "1"}
    workers = [start_server_process(env=env, log_path=tmp_path / f"worker{i}.log") for i in range(2)]
    yield workers
    for worker in workers:
        worker.stop()


async def connect(url: str, namespace: str) -> socketio.AsyncSimpleClient:
    client = socketio.AsyncSimpleClient()
    await client.connect(url, namespace=namespace, transports=["websocket"], wait_timeout=10)
    return client


async def test_connection_counts_add_up_over_workers(two_workers) -> None:
    a, b = two_workers
    lobby = await connect(a.url, "/lobby")
    others = [await connect(b.url, "/map-dashboard"), await connect(b.url, "/map-dashboard"),
              await connect(a.url, "/chat")]
    try:
        stats = await receive_event(lobby, "stats")
        for _ in range(30):
            if stats["map"] == 2 and stats["chat"] == 1:
                break
            stats = await receive_event(lobby, "stats", timeout=5)
        assert stats["map"] == 2 and stats["chat"] == 1
        await others[0].disconnect()
        for _ in range(30):
            stats = await receive_event(lobby, "stats", timeout=5)
            if stats["map"] == 1:
                break
        assert stats["map"] == 1
    finally:
        for client in [lobby, *others]:
            if client.connected:
                await asyncio.wait_for(client.disconnect(), 5)


def test_health_reports_both_backends(two_workers) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(two_workers[0].url + "/healthz", timeout=5) as resp:
        body = json.load(resp)
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "message_queue": "ok"}


def test_polling_is_refused_when_websocket_only(two_workers) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(two_workers[0].url + "/socket.io/?EIO=4&transport=polling", timeout=5)
    assert refused.value.code == 400
