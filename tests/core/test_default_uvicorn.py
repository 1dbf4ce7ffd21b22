"""The site under plain `uvicorn votemap_site.asgi:application` (uvicorn's default flags).

Its defaults let browsers negotiate permessage-deflate and pick uvicorn's
default WebSocket implementation, neither of which the direct broadcast path
can write frames to. The site must still deliver every broadcast, and say on
/healthz which connections could not take direct frames and why: never a
silent or partial degrade.
"""

import asyncio
import json
import sys
import urllib.request
import uuid

import pytest
import socketio
from websockets.asyncio.client import connect

from tests.conftest import migrate_database, receive_event, start_server_process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
NS = "/map-dashboard"


@pytest.fixture
def default_uvicorn(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    migrate_database(env)
    server = start_server_process(env=env, log_path=tmp_path / "server.log",
                                  command=[sys.executable, "-m", "uvicorn", "votemap_site.asgi:application"])
    yield server
    server.stop()


def healthz(url: str) -> dict:
    with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
        return json.loads(response.read())


async def test_broadcasts_reach_everyone_and_healthz_says_why_frames_are_not_direct(default_uvicorn):
    url = default_uvicorn.url
    viewers = []
    for _ in range(3):
        viewer = socketio.AsyncSimpleClient()
        await viewer.connect(url, namespace=NS, transports=["websocket"], wait_timeout=10)
        await receive_event(viewer, "snapshot", timeout=10)
        viewers.append(viewer)
    # A browser-like client that offers permessage-deflate (as Chromium does).
    ws = await connect(url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                       compression="deflate", open_timeout=10)
    await ws.recv()  # OPEN
    await ws.send(f"40{NS},")
    voter = viewers[0]
    ack = await voter.call("vote", {"province": "28", "direction": "up", "vote_id": str(uuid.uuid4())}, timeout=10)
    assert ack["ok"] is True
    for viewer in viewers[1:]:
        delta = await receive_event(viewer, "votes", timeout=10)
        assert delta["counts"]["28"] == 1
    seen_votes = False
    for _ in range(50):  # the deflate client gets the same delta
        message = await asyncio.wait_for(ws.recv(), 10)
        if message.startswith(f'42{NS},["votes"'):
            seen_votes = True
            break
    assert seen_votes
    status = (await asyncio.to_thread(healthz, url))["realtime"]["broadcast"]
    assert status["path"] in {"direct", "loop"}
    # Whatever uvicorn picked, either frames went out directly or the reasons they
    # could not are listed: deflate was offered by one client, so a reason must be there.
    assert status["degraded_connections"], status
    assert status["deliveries"]["queued"] >= 1, status
    await ws.close()
    for viewer in viewers:
        await viewer.disconnect()
