"""A hostile audience, through the live server and real sockets (votemap_site/realtime/edge.py).

Each test is an attack that a script in the crowd can run, with raw Engine.IO
frames where the official clients cannot misbehave enough, and asserts the
outcome a user relies on: votes stay within the limit however the client
reconnects, memory stays bounded and the misbehaving connection is closed,
refused input never crashes anything, and a well-behaved client sharing the
server keeps being answered. Latency figures for the bystander live in
bench/hostile.py, not here.
"""

import asyncio
import logging
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.conftest import migrate_database, start_server_process
from tests.rawio import NonReadingSocket, RawSocketIO

pytestmark = pytest.mark.django_db(transaction=True)

MAP = "/map-dashboard"
CHAT = "/chat"
GAME = "/grid-game"


def _vote(code: str = "28") -> dict:
    return {"province": code, "direction": "up", "vote_id": str(uuid.uuid4())}


async def wait_until(predicate, *, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())


@pytest.fixture
def edge_site(settings, request):
    """The live site with the limits at their defaults except where a test's
    `@pytest.mark.edge(NAME=value)` says (the server reads them when it is built)."""
    from chat.models import Room
    from dashboard.services import provinces_seed
    from grid_game.models import Arena

    marker = request.node.get_closest_marker("edge")
    for name, value in (marker.kwargs if marker else {}).items():
        setattr(settings, name, value)
    request.getfixturevalue("transactional_db")
    provinces_seed()  # a transactional flush removed what the data migrations made
    Room.objects.update_or_create(slug="cats", defaults={"name": "Cats", "is_open": True})
    Arena.objects.update_or_create(slug="main", defaults={"name": "Main", "width": 20, "height": 10})
    return request.getfixturevalue("live_site")


# ----- ballot stuffing -------------------------------------------------------------
async def _stuff(client: RawSocketIO, namespace: str, event: str, payload, *, seconds: float,
                 rejoin_every: int) -> tuple[int, float]:
    """Send `event` as fast as acks come back for `seconds`, re-sending the namespace
    CONNECT after every `rejoin_every` events; returns (accepted, elapsed)."""
    accepted, sent = 0, 0
    start = time.monotonic()
    while time.monotonic() - start < seconds and not client.closed.is_set():
        try:
            ack = await client.call(namespace, event, payload(), timeout=3)
        except (ConnectionError, TimeoutError):
            break
        sent += 1
        if ack["ok"]:
            accepted += 1
        if sent % rejoin_every == 0:
            await client.disconnect_namespace(namespace)
            try:
                await client.connect_namespace(namespace)
            except (ConnectionError, TimeoutError):
                break
    return accepted, time.monotonic() - start


async def test_reconnecting_the_namespace_does_not_refill_the_vote_bucket(edge_site, settings) -> None:
    client = await RawSocketIO.open(edge_site.url)
    await client.connect_namespace(MAP)
    accepted, elapsed = await _stuff(client, MAP, "vote", _vote, seconds=3.0, rejoin_every=5)
    allowed = settings.DASHBOARD_VOTE_BURST + settings.DASHBOARD_VOTE_RATE * elapsed
    # Before the edge, each namespace CONNECT brought a full bucket: ~400 votes/s.
    assert 0 < accepted <= allowed + 1, (accepted, elapsed)
    await client.close()


async def test_reconnecting_the_namespace_does_not_refill_the_chat_bucket(edge_site, settings) -> None:
    client = await RawSocketIO.open(edge_site.url)
    await client.connect_namespace(CHAT)
    assert (await client.call(CHAT, "join", {"room": "cats"}))["ok"]

    def message() -> dict:
        return {"room": "cats", "text": "meow " + uuid.uuid4().hex[:6]}

    accepted, sent = 0, 0
    start = time.monotonic()
    while time.monotonic() - start < 3.0 and not client.closed.is_set():
        try:
            ack = await client.call(CHAT, "send_message", message(), timeout=3)
        except (ConnectionError, TimeoutError):
            break
        sent += 1
        accepted += bool(ack["ok"])
        if sent % 3 == 0:  # leave and come back: a fresh namespace sid, the same connection
            await client.disconnect_namespace(CHAT)
            try:
                await client.connect_namespace(CHAT)
                await client.call(CHAT, "join", {"room": "cats"})
            except (ConnectionError, TimeoutError):
                break
    elapsed = time.monotonic() - start
    assert 0 < accepted <= settings.CHAT_MESSAGE_BURST + settings.CHAT_MESSAGE_RATE * elapsed + 1
    await client.close()


async def test_namespace_connects_are_limited_per_connection(edge_site, settings) -> None:
    client = await RawSocketIO.open(edge_site.url)
    sid = client.sid
    for _ in range(settings.SOCKETIO_NAMESPACE_CONNECT_BURST + 5):
        if not await client.send(f"40{MAP},"):
            break
        await client.send(f"41{MAP},")
    assert await client.wait_closed(5), "a connection that keeps re-sending CONNECT is closed"
    assert await wait_until(lambda: sid not in edge_site.realtime.sio.eio.sockets, timeout=5)


@pytest.mark.parametrize(
    "namespace, setup, event, payload",
    [
        (MAP, None, "vote", _vote),
        (CHAT, ("join", {"room": "cats"}), "send_message", lambda: {"room": "cats", "text": "hi"}),
        (GAME, ("join_game", {"arena": "main"}), "move", lambda: {"direction": "left", "seq": 1}),
    ],
    ids=["map", "chat", "game"],
)
@pytest.mark.edge(RATE_LIMIT_FLOOD_STRIKES=10)
async def test_flooding_closes_the_whole_connection(edge_site, settings, sio_client, namespace, setup,
                                                    event, payload) -> None:
    bystander = await sio_client(MAP)
    client = await RawSocketIO.open(edge_site.url)
    await client.connect_namespace(namespace)
    await client.connect_namespace("/lobby")
    if setup:
        assert (await client.call(namespace, *setup))["ok"]
    codes = []
    for _ in range(500):
        if client.closed.is_set():
            break
        await client.emit(namespace, event, payload())  # no waiting for acks: a flood
        await asyncio.sleep(0)
    assert await client.wait_closed(10), "the flooder's Engine.IO connection (every namespace) is closed"
    while not client.inbox.empty():
        message = client.inbox.get_nowait()
        if message.startswith(f"43{namespace},") and '"rate_limited"' in message:
            codes.append("rate_limited")
    assert codes, "the flooder was told rate_limited before being closed"
    ack = await bystander.call("vote", _vote("08"), timeout=10)
    assert ack["ok"] is True


async def test_session_bucket_is_shared_by_the_tabs_of_one_browser(edge_site, settings, make_session) -> None:
    cookies = make_session()
    header = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    tabs = [await RawSocketIO.open(edge_site.url, headers=header) for _ in range(5)]
    for tab in tabs:
        await tab.connect_namespace(MAP)
    acks = await asyncio.gather(*[tab.call(MAP, "vote", _vote(), timeout=10) for tab in tabs for _ in range(20)])
    accepted = sum(1 for ack in acks if ack["ok"])
    session_burst = int(settings.DASHBOARD_VOTE_BURST * settings.RATE_LIMIT_SESSION_MULTIPLIER)
    # 5 tabs x 20 votes, each tab's own bucket holds 20: the session caps them together.
    assert session_burst <= accepted <= session_burst + settings.DASHBOARD_VOTE_RATE * 3 * 2
    for tab in tabs:
        await tab.close()


@pytest.mark.edge(RATE_LIMIT_ADDRESS_MULTIPLIER=2.0)
async def test_cookieless_connections_share_a_bucket_per_address(edge_site, settings) -> None:
    clients = [await RawSocketIO.open(edge_site.url) for _ in range(6)]
    for client in clients:
        await client.connect_namespace(MAP)
    acks = await asyncio.gather(*[c.call(MAP, "vote", _vote(), timeout=10) for c in clients for _ in range(20)])
    accepted = sum(1 for ack in acks if ack["ok"])
    address_burst = settings.DASHBOARD_VOTE_BURST * 2
    assert address_burst <= accepted <= address_burst + settings.DASHBOARD_VOTE_RATE * 2 * 3
    for client in clients:
        await client.close()


# ----- new connections per address ---------------------------------------------------
def _handshake(url: str, cookie: str | None = None) -> int:
    request = urllib.request.Request(url + "/socket.io/?EIO=4&transport=polling")
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.edge(SOCKETIO_MAX_NEW_CONNECTIONS_PER_ADDRESS=5.0)  # burst 10
async def test_new_cookieless_connections_per_address_are_capped(edge_site, settings, make_session) -> None:
    statuses = [await asyncio.to_thread(_handshake, edge_site.url) for _ in range(25)]
    assert statuses.count(200) <= 10 + 5 * 2  # burst + rate x (generous) elapsed
    assert 401 in statuses
    # A browser with a session is never limited by the address it shares.
    cookies = make_session()
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    assert {await asyncio.to_thread(_handshake, edge_site.url, cookie) for _ in range(25)} == {200}


@pytest.mark.edge(SOCKETIO_MAX_NEW_CONNECTIONS_PER_ADDRESS=2.0)  # burst 4
async def test_a_forged_cookie_counts_as_cookieless(edge_site, settings) -> None:
    cookie = {"Cookie": "sessionid=" + uuid.uuid4().hex}  # a session the server never issued
    clients = [await RawSocketIO.open(edge_site.url, headers=cookie) for _ in range(12)]
    start = time.monotonic()
    replies = await asyncio.gather(*[c.connect_namespace(MAP, timeout=5) for c in clients],
                                   return_exceptions=True)
    elapsed = time.monotonic() - start
    admitted = [c for c, reply in zip(clients, replies, strict=True)
                if isinstance(reply, dict) and "sid" in reply and not await c.wait_closed(1.0)]
    assert len(admitted) <= 4 + 2 * (elapsed + 1), (len(admitted), elapsed)
    assert len(admitted) < 12
    for client in clients:
        await client.close()


# ----- refused input -------------------------------------------------------------------
async def test_binary_attachments_close_the_connection(edge_site) -> None:
    client = await RawSocketIO.open(edge_site.url)
    await client.connect_namespace(MAP)
    await client.send(f'451-{MAP},1["vote",{{"_placeholder":true,"num":0}}]')
    await client.send(b"\x00" * 1024)
    assert await client.wait_closed(5)


async def test_a_binary_message_closes_the_connection(edge_site) -> None:
    client = await RawSocketIO.open(edge_site.url)
    await client.connect_namespace(MAP)
    await client.send(b"4" + b"x" * 100)
    assert await client.wait_closed(5)


async def test_a_one_mebibyte_frame_closes_the_connection(edge_site, sio_client) -> None:
    bystander = await sio_client(MAP)
    client = await RawSocketIO.open(edge_site.url)
    await client.connect_namespace(MAP)
    await client.send("4" + "x" * (1 << 20))
    assert await client.wait_closed(5)
    assert client.close_code == 1009  # uvicorn: message too big, before reading it whole
    assert (await bystander.call("vote", _vote(), timeout=10))["ok"] is True


@pytest.mark.edge(SOCKETIO_NAMESPACE_JOIN_TIMEOUT=1.0)
async def test_a_connection_without_a_namespace_is_closed(edge_site, settings, sio_client) -> None:
    idle = await RawSocketIO.open(edge_site.url)
    working = await sio_client(MAP)
    assert await idle.wait_closed(10)
    assert working.connected
    assert (await working.call("vote", _vote(), timeout=10))["ok"] is True


@pytest.mark.edge(SOCKETIO_NAMESPACE_JOIN_TIMEOUT=1.0)
async def test_a_connection_that_left_every_namespace_is_closed(edge_site, settings) -> None:
    client = await RawSocketIO.open(edge_site.url)
    await client.connect_namespace(MAP)
    await client.disconnect_namespace(MAP)
    assert await client.wait_closed(10)


async def test_malformed_packets_are_logged_once_without_tracebacks(edge_site, caplog) -> None:
    client = await RawSocketIO.open(edge_site.url)
    await client.connect_namespace(MAP)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for packet in ["42/lobby,5", "49", f"42{MAP},[", f"42{MAP},7", "4x", f"43{MAP},"] * 30:
            if not await client.send(packet):
                break
        await client.wait_closed(10)
    mine = [r.getMessage() for r in caplog.records if client_public_id(client) in r.getMessage()]
    described = [line for line in mine if "malformed packet (" in line]
    assert len(described) == 1, mine  # 180 bad packets, one line
    assert [line for line in mine if "closed: kept sending malformed packets" in line], mine
    assert not [r for r in caplog.records if r.exc_info], "no traceback for client input"


@pytest.mark.parametrize("frame", ["", "x", "9", "0", "7{}", "42", "4", "40", f"43{MAP},"])
async def test_engineio_garbage_gets_no_traceback_and_the_connection_keeps_working(edge_site, caplog, frame):
    client = await RawSocketIO.open(edge_site.url)
    await client.connect_namespace(MAP)
    with caplog.at_level(logging.INFO):
        assert await client.send(frame)
        ack = await client.call(MAP, "get_snapshot", {}, timeout=5)
    assert ack["ok"] is True  # one bad packet is not a flood
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    await client.close()


@pytest.mark.parametrize("body", ["", "x", "9", "4\x1e9", "b", "bAAAA", "4" + "\x1e" * 3])
async def test_long_polling_garbage_gets_no_traceback(edge_site, caplog, body):
    import json as _json

    def exchange() -> int:
        with urllib.request.urlopen(edge_site.url + "/socket.io/?EIO=4&transport=polling", timeout=5) as r:
            sid = _json.loads(r.read().decode()[1:])["sid"]
        request = urllib.request.Request(f"{edge_site.url}/socket.io/?EIO=4&transport=polling&sid={sid}",
                                         data=body.encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    with caplog.at_level(logging.INFO):
        status = await asyncio.to_thread(exchange)
    assert status in (200, 400)
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


async def test_a_base64_binary_message_closes_the_connection(edge_site) -> None:
    client = await RawSocketIO.open(edge_site.url)
    await client.connect_namespace(MAP)
    await client.send("bAAAA")
    assert await client.wait_closed(5)


def client_public_id(client: RawSocketIO) -> str:
    from votemap_site.realtime.identity import public_id_for

    return public_id_for("c:" + client.sid)


# ----- clients that stop reading --------------------------------------------------------
def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@pytest.fixture
def server_process(tmp_path):
    """The site in its own process (its memory is what is measured), on a file SQLite."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    migrate_database(env)
    procs = []

    def start(**extra: str):
        proc = start_server_process(env={**env, **extra}, log_path=tmp_path / "server.log")
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("cap", ["stall", "bytes"])
async def test_a_client_that_stops_reading_is_closed_and_memory_stays_bounded(server_process, cap) -> None:
    if cap == "stall":  # the defaults: queued data not drained for 5 s
        server = server_process()
    else:  # a long stall limit, so the byte cap is what closes it
        server = server_process(SOCKETIO_SEND_STALL_SECONDS="120", SOCKETIO_MAX_QUEUED_BYTES=str(64 * 1024))
    bystander = await RawSocketIO.open(server.url)
    await bystander.connect_namespace(MAP)
    before = _rss_kib(server.proc.pid)

    attackers = [NonReadingSocket("127.0.0.1", server.port) for _ in range(4)]
    for sock in attackers:
        sock.send_text(f"40{MAP},")
    alive = set(range(len(attackers)))
    peak = before
    bystander_acks = 0
    deadline = time.monotonic() + 60
    n = 0
    while alive and time.monotonic() < deadline:
        n += 1
        for i in list(alive):
            # Within the rate limit (get_snapshot: 5/s): replies of ~3 KB that it never reads,
            # and blind PONGs to keep the heartbeat happy.
            ok = attackers[i].send_text(f'42{MAP},{n}["get_snapshot",{{}}]') and attackers[i].send_text("3")
            if not ok:
                alive.discard(i)
        ack = await bystander.call(MAP, "vote", _vote(), timeout=10)
        bystander_acks += bool(ack["ok"])
        peak = max(peak, _rss_kib(server.proc.pid))
        await asyncio.sleep(0.25)
    for sock in attackers:
        sock.close()
    assert not alive, "every non-reading connection was closed by the server"
    # Four connections may each hold at most the send caps (256 KiB by default) plus the
    # kernel-side buffers; before the caps the server grew by ~90 MB in 20 s.
    assert peak - before < 24 * 1024, f"RSS grew by {(peak - before) / 1024:.1f} MiB"
    assert bystander_acks >= n - 2, "the well-behaved client kept being answered"
    await bystander.close()


@pytest.mark.timeout(60)
@pytest.mark.edge(SOCKETIO_PING_INTERVAL=1, SOCKETIO_PING_TIMEOUT=2)
async def test_a_polling_session_that_never_fetches_expires(edge_site, settings) -> None:
    url = edge_site.url
    import json as _json

    def open_session() -> str:
        with urllib.request.urlopen(url + "/socket.io/?EIO=4&transport=polling", timeout=5) as response:
            body = response.read().decode()
        return _json.loads(body[1:])["sid"]

    def post(sid: str, text: str) -> int:
        request = urllib.request.Request(
            f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}", data=text.encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    sid = await asyncio.to_thread(open_session)
    assert await asyncio.to_thread(post, sid, f"40{MAP},") == 200
    statuses = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # Replies pile up (the snapshot, acks) and blind PONGs keep coming, but no GET.
        status = await asyncio.to_thread(post, sid, "3")
        statuses.append(status)
        if status != 200:
            break
        await asyncio.to_thread(post, sid, f'42{MAP},1["get_snapshot",{{}}]')
        await asyncio.sleep(0.5)
    assert statuses[-1] == 400, "the session expired: the server no longer knows it"
    assert sid not in edge_site.realtime.sio.eio.sockets


# ----- clients that reload in a loop --------------------------------------------------
@pytest.mark.timeout(60)
async def test_a_closed_connection_is_freed_at_once(edge_site) -> None:
    """A client reloading the page in a loop leaves nothing behind: engine.io's
    heartbeat task used to keep every closed connection (socket, queues,
    timer) alive until its next ping, 25 s later, so memory grew with the
    reconnect rate."""
    import gc

    from engineio.async_socket import AsyncSocket

    eio = edge_site.app.engineio_server.eio  # socketio.ASGIApp holds the Socket.IO server
    for _ in range(30):
        client = await RawSocketIO.open(edge_site.url)
        await client.connect_namespace(MAP)
        await client.close()
    assert await wait_until(lambda: not eio.sockets, timeout=10), "the server forgot the closed connections"

    def alive() -> int:
        gc.collect()
        return sum(isinstance(obj, AsyncSocket) for obj in gc.get_objects())

    # engine.io's service task may still hold the sockets of its last sweep (a
    # copy of the table it walks every few seconds): a few, never one per reconnect.
    ok = await wait_until(lambda: alive() <= 3, timeout=5)
    assert ok, f"{alive()} closed connections still in memory"


# ----- the WebSocket reader ------------------------------------------------------------
async def test_websocket_messages_are_read_by_the_sites_reader(edge_site) -> None:
    """Each connection's WebSocket is read by reader.py's loop (no task and timer
    per message), and a client is answered through it, in order."""
    from votemap_site.realtime import reader

    sio = edge_site.app.engineio_server
    assert sio.lean_reader, "the installed engine.io is the tested one"
    client = await RawSocketIO.open(edge_site.url)
    await client.connect_namespace(MAP)
    (sock,) = sio.eio.sockets.values()
    assert getattr(sock, reader.HANDLER_ATTR).__func__ is reader.websocket_handler
    acks = [await client.call(MAP, "vote", _vote(), timeout=5) for _ in range(3)]
    assert [ack["ok"] for ack in acks] == [True, True, True]
    assert [ack["data"]["votes"] for ack in acks] == sorted(ack["data"]["votes"] for ack in acks)
    await client.close()
    assert await wait_until(lambda: not sio.eio.sockets, timeout=5), "the connection ended with its reader"
