"""The task-free broadcast path (votemap_site/realtime/broadcast.py) through a live server.

A small probe namespace, registered only for these tests, lets clients ask
the server to emit to everyone, to a room, with `skip_sid`, or with a
callback, so the client manager's delivery is checked end to end on both
transports and across two workers sharing Redis.
"""

import asyncio
import json

import pytest
import socketio
from hypothesis import given
from hypothesis import strategies as st
from socketio import packet as sio_packet

from tests.conftest import _ThreadedUvicorn, free_port, receive_event
from votemap_site.realtime.base import BaseNamespace
from votemap_site.realtime.broadcast import (
    FastAsyncAioPikaManager,
    FastAsyncManager,
    FastAsyncRedisManager,
    FastAsyncServer,
    JsonPacket,
    WireJson,
    websocket_text_frame,
)
from votemap_site.realtime.ratelimit import RateLimit
from votemap_site.realtime.schemas import EmptyPayload, EventSchema, Slug

PROBE = "/probe"
GENEROUS = RateLimit(per_second=1000, burst=1000)


class ShoutPayload(EventSchema):
    text: str
    room: Slug | None = None
    skip_self: bool = False
    local_only: bool = False


class CountPayload(EventSchema):
    count: int


class RoomPayload(EventSchema):
    room: Slug


class ProbeNamespace(BaseNamespace):
    schemas = {"shout": ShoutPayload, "shout_many": CountPayload, "join_room": RoomPayload,
               "ask_me": EmptyPayload}
    rate_limits = {name: GENEROUS for name in schemas}

    async def on_join_room(self, sid: str, payload: RoomPayload) -> dict:
        await self.enter_room(sid, payload.room)
        return {}

    async def on_shout(self, sid: str, payload: ShoutPayload) -> dict:
        await self.emit(
            "heard", {"text": payload.text}, room=payload.room,
            skip_sid=sid if payload.skip_self else None, ignore_queue=payload.local_only,
        )
        return {}

    async def on_shout_many(self, sid: str, payload: CountPayload) -> dict:
        for i in range(min(payload.count, 100)):
            await self.emit("heard", {"text": f"seq {i}"})
        return {}

    async def on_ask_me(self, sid: str, payload: EmptyPayload) -> dict:
        # `call` is an emit with a callback: it must still use the stock path.
        answer = await self.call("question", {"q": "ping"}, to=sid, timeout=5)
        return {"answer": answer}


@pytest.fixture
def probe_namespace(settings):
    settings.SOCKETIO_NAMESPACES = [*settings.SOCKETIO_NAMESPACES, (PROBE, f"{__name__}.ProbeNamespace")]


@pytest.fixture
def probe_site(probe_namespace, request):
    return request.getfixturevalue("live_site")


async def expect_nothing(client, event: str, timeout: float = 0.5) -> None:
    with pytest.raises((TimeoutError, socketio.exceptions.TimeoutError)):
        await receive_event(client, event, timeout=timeout)


def test_frame_encoding_matches_rfc6455_lengths():
    assert websocket_text_frame("4a") == b"\x81\x024a"
    medium = websocket_text_frame("x" * 300)
    assert medium[:4] == b"\x81\x7e\x01\x2c" and len(medium) == 304
    large = websocket_text_frame("é" * 40000)  # 80,000 UTF-8 bytes
    assert large[:2] == b"\x81\x7f" and int.from_bytes(large[2:10], "big") == 80000


def test_wire_json_decodes_like_engineio_and_keeps_the_integer_guard():
    text = '["vote",{"province":"28","n":12,"x":[1.5,null,true]}]'
    assert WireJson.loads(text) == ["vote", {"province": "28", "n": 12, "x": [1.5, None, True]}]
    assert WireJson.loads(text.encode()) == WireJson.loads(text)
    with pytest.raises(ValueError):
        WireJson.loads("[" + "9" * 101 + "]")
    with pytest.raises(ValueError):
        WireJson.loads('{"a": ')
    assert WireJson.dumps({"a": [1, "é"]}, separators=(",", ":")) == '{"a":[1,"\\u00e9"]}'


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(data=_json_values, kwargs=st.sampled_from([{}, {"separators": (",", ":")}, {"sort_keys": True}]))
def test_wire_json_encodes_like_the_standard_library(data, kwargs):
    assert WireJson.dumps(data, **kwargs) == json.dumps(data, **kwargs)


@given(data=_json_values, ack_id=st.none() | st.integers(0, 10**6),
       namespace=st.sampled_from(["/", "/map-dashboard", "/chat"]))
def test_the_json_only_packet_encodes_like_python_socketios(data, ack_id, namespace):
    kind = sio_packet.EVENT if ack_id is None else sio_packet.ACK
    stock = sio_packet.Packet(kind, namespace=namespace, id=ack_id, data=["event", data])
    stock.json = WireJson
    ours = JsonPacket(kind, namespace=namespace, id=ack_id, data=["event", data])
    ours.json = WireJson
    assert ours.encode() == stock.encode()


def test_recipients_follow_python_socketio_rules():
    """Rooms, lists of rooms (each member once), skip_sid as one sid or a list."""
    manager = FastAsyncManager()
    for sid, eio_sid, rooms in [("a", "ea", ["red"]), ("b", "eb", ["red", "blue"]), ("c", "ec", ["blue"])]:
        manager.basic_enter_room(sid, "/ns", None, eio_sid=eio_sid)
        manager.basic_enter_room(sid, "/ns", sid, eio_sid=eio_sid)
        for room in rooms:
            manager.basic_enter_room(sid, "/ns", room)
    assert sorted(manager._recipients("/ns", None, None)) == ["ea", "eb", "ec"]
    assert sorted(manager._recipients("/ns", "red", None)) == ["ea", "eb"]
    assert sorted(manager._recipients("/ns", ["red", "blue"], None)) == ["ea", "eb", "ec"]
    assert sorted(manager._recipients("/ns", ["red", "blue"], "b")) == ["ea", "ec"]
    assert sorted(manager._recipients("/ns", None, ["a", "c"])) == ["eb"]
    assert manager._recipients("/ns", "c", None) == ["ec"]  # a sid is its own room
    assert manager._recipients("/ns", "nobody", None) == []
    assert manager._recipients("/other", None, None) == []
    expected = sorted(eio for _, eio in manager.get_participants("/ns", ["red", "blue"]))
    assert sorted(manager._recipients("/ns", ["red", "blue"], None)) == expected


@pytest.mark.django_db(transaction=True)
async def test_broadcast_reaches_every_client_on_both_transports(probe_site, sio_client):
    sio = probe_site.realtime.sio
    assert isinstance(sio.manager, FastAsyncManager)
    ws_clients = [await sio_client(PROBE) for _ in range(5)]
    poll_clients = [await sio_client(PROBE, transports=["polling"]) for _ in range(3)]
    sender = ws_clients[0]
    for round_no in range(3):  # several rounds: the direct path must keep the order
        ack = await sender.call("shout", {"text": f"hello {round_no}"})
        assert ack == {"ok": True, "data": {}}
        for client in ws_clients + poll_clients:
            assert await receive_event(client, "heard") == {"text": f"hello {round_no}"}
    stats = sio.manager.stats
    assert stats.fallback == 0
    assert stats.direct > 0, stats.as_dict()  # idle WebSocket writers got pre-built frames
    assert stats.queued >= 3 * 3, stats.as_dict()  # polling clients went through their queue
    assert isinstance(sio, FastAsyncServer)
    assert sio.direct_packets > 0  # acks to idle WebSocket writers were written directly


@pytest.mark.django_db(transaction=True)
async def test_many_broadcasts_arrive_complete_and_in_order(probe_site, sio_client):
    listeners = [await sio_client(PROBE), await sio_client(PROBE)]
    sender = await sio_client(PROBE)
    acks = await asyncio.gather(*(sender.call("shout", {"text": str(i)}) for i in range(40)))
    assert all(ack["ok"] for ack in acks), acks
    for client in listeners:
        seen = [(await receive_event(client, "heard"))["text"] for _ in range(40)]
        assert sorted(seen, key=int) == [str(i) for i in range(40)]
    # Emits that follow each other in one task arrive in that order.
    assert (await sender.call("shout_many", {"count": 20}))["ok"]
    for client in listeners:
        seen = [(await receive_event(client, "heard"))["text"] for _ in range(20)]
        assert seen == [f"seq {i}" for i in range(20)]


@pytest.mark.django_db(transaction=True)
async def test_skip_sid_is_respected(probe_site, sio_client):
    sender = await sio_client(PROBE)
    others = [await sio_client(PROBE), await sio_client(PROBE, transports=["polling"])]
    assert (await sender.call("shout", {"text": "not for me", "skip_self": True}))["ok"]
    for client in others:
        assert await receive_event(client, "heard") == {"text": "not for me"}
    await expect_nothing(sender, "heard")


@pytest.mark.django_db(transaction=True)
async def test_room_emit_reaches_only_the_room(probe_site, sio_client):
    inside = [await sio_client(PROBE), await sio_client(PROBE, transports=["polling"])]
    outside = await sio_client(PROBE)
    for client in inside:
        assert (await client.call("join_room", {"room": "blue"}))["ok"]
    assert (await outside.call("shout", {"text": "blue only", "room": "blue"}))["ok"]
    for client in inside:
        assert await receive_event(client, "heard") == {"text": "blue only"}
    await expect_nothing(outside, "heard")


@pytest.mark.django_db(transaction=True)
async def test_emit_with_callback_still_works(probe_site):
    client = socketio.AsyncClient()

    @client.on("question", namespace=PROBE)
    async def answer(data):
        return {"echo": data["q"]}

    await client.connect(probe_site.url, namespaces=[PROBE], transports=["websocket"], wait_timeout=10)
    try:
        ack = await client.call("ask_me", {}, namespace=PROBE, timeout=10)
    finally:
        await client.disconnect()
    assert ack == {"ok": True, "data": {"answer": {"echo": "ping"}}}
    assert probe_site.realtime.sio.manager.stats.fallback >= 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("queue", ["redis", "rabbitmq"])
async def test_fan_out_reaches_clients_of_another_worker(probe_namespace, settings, redis_url, queue, request):
    """Two servers sharing Redis, or RabbitMQ: an emit on one reaches clients of
    both (and `ignore_queue` stays on the emitting worker)."""
    from votemap_site.asgi import build_application

    settings.REDIS_URL = redis_url  # with RabbitMQ too: the counts stay in Redis (SQLite here)
    manager_class = FastAsyncRedisManager
    if queue == "rabbitmq":
        settings.MESSAGE_QUEUE_URL = request.getfixturevalue("rabbitmq_url")
        manager_class = FastAsyncAioPikaManager
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    runners, sites = [], []
    clients: list[socketio.AsyncSimpleClient] = []
    try:
        for _ in range(2):
            app = build_application()
            port = free_port()
            runner = _ThreadedUvicorn(app, port)
            runner.start()
            runners.append(runner)
            sites.append((app, f"http://127.0.0.1:{port}"))

        async def connect(url: str, transports: list[str]) -> socketio.AsyncSimpleClient:
            client = socketio.AsyncSimpleClient()
            await client.connect(url, namespace=PROBE, transports=transports, wait_timeout=10)
            clients.append(client)
            return client

        a_ws = await connect(sites[0][1], ["websocket"])
        b_ws = await connect(sites[1][1], ["websocket"])
        b_poll = await connect(sites[1][1], ["polling"])
        for app, _ in sites:
            assert isinstance(app.engineio_server.manager, manager_class)
        # The pub/sub listener subscribes in the background; retry until it is up.
        for attempt in range(50):
            assert (await a_ws.call("shout", {"text": f"across {attempt}"}))["ok"]
            try:
                got = await receive_event(b_ws, "heard", timeout=0.3)
            except (TimeoutError, socketio.exceptions.TimeoutError):
                continue
            break
        else:
            pytest.fail(f"no cross-worker delivery through {queue}")
        text = got["text"]
        assert await receive_event(b_poll, "heard", timeout=5) == {"text": text}
        assert await receive_event(a_ws, "heard", timeout=5) == {"text": text}
        async def texts_until(client, last: str) -> list[str]:
            """Every `heard` text up to and including `last` (Redis keeps one publisher's order)."""
            seen = []
            while not seen or seen[-1] != last:
                seen.append((await receive_event(client, "heard", timeout=10))["text"])
            return seen

        # ignore_queue stays on the emitting worker: a published barrier after it
        # reaches b, and the local-only emit never came before it.
        assert (await a_ws.call("shout", {"text": "local", "local_only": True}))["ok"]
        assert "local" in await texts_until(a_ws, "local")
        assert (await a_ws.call("shout", {"text": "barrier 1"}))["ok"]
        assert "local" not in await texts_until(b_ws, "barrier 1")
        # skip_sid travels through Redis too
        assert (await b_ws.call("shout", {"text": "skip b", "skip_self": True}))["ok"]
        await texts_until(a_ws, "skip b")
        assert (await b_ws.call("shout", {"text": "barrier 2"}))["ok"]
        assert "skip b" not in await texts_until(b_ws, "barrier 2")
    finally:
        for client in clients:
            try:
                await asyncio.wait_for(client.disconnect(), 5)
            except Exception:
                pass
        for runner in runners:
            runner.stop()



# ----- the delivery path (SOCKETIO_BROADCAST_PATH) ------------------------------------
def test_direct_path_needs_the_tested_library_versions(monkeypatch):
    from votemap_site.realtime import broadcast

    assert broadcast.choose_path("direct")[0] == "direct"  # the pinned versions are the tested ones
    monkeypatch.setitem(broadcast.TESTED_VERSIONS, "websockets", "0.0-other")
    path, why = broadcast.choose_path("direct")
    assert path == "loop" and "websockets" in why and "0.0-other" in why
    assert broadcast.choose_path("stock") == ("stock", "SOCKETIO_BROADCAST_PATH=stock")
    with pytest.raises(ValueError):
        broadcast.choose_path("fastest")


@pytest.fixture
def path_site(probe_namespace, settings, request):
    settings.SOCKETIO_BROADCAST_PATH = request.param
    return request.getfixturevalue("live_site")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path_site", ["loop", "stock"], indirect=True)
async def test_every_path_delivers_every_broadcast_in_order(path_site, sio_client):
    site = path_site
    path = site.realtime.broadcast_path
    listeners = [await sio_client(PROBE) for _ in range(3)] + [await sio_client(PROBE, transports=["polling"])]
    sender = listeners[0]
    for i in range(5):
        assert (await sender.call("shout", {"text": str(i)}))["ok"]
    for client in listeners:
        assert [(await receive_event(client, "heard"))["text"] for _ in range(5)] == [str(i) for i in range(5)]
    manager = site.realtime.sio.manager
    if path == "loop":
        assert isinstance(manager, FastAsyncManager) and manager.stats.direct == 0
        assert manager.stats.queued >= 5 * 4
        assert site.realtime.sio.direct_packets == 0
    else:
        assert type(manager) is socketio.AsyncManager
    status = site.realtime.broadcast_status()
    assert status["path"] == path and status["chosen"] == path


@pytest.mark.django_db(transaction=True)
async def test_an_error_in_the_direct_path_still_reaches_everyone_and_turns_it_off(
        probe_site, sio_client, monkeypatch, caplog):
    from votemap_site.realtime import broadcast

    listeners = [await sio_client(PROBE) for _ in range(6)]
    sender = listeners[0]
    real = broadcast._direct_target
    calls = {"n": 0}

    def breaks_after_two(sock):
        calls["n"] += 1
        if calls["n"] > 2:
            raise AttributeError("'WebSocketsSansIOProtocol' object has no attribute 'writable'")
        return real(sock)

    monkeypatch.setattr(broadcast, "_direct_target", breaks_after_two)
    with caplog.at_level("WARNING"):
        assert (await sender.call("shout", {"text": "after the upgrade"}, timeout=10))["ok"]
        for client in listeners:  # not only the first recipients
            assert await receive_event(client, "heard") == {"text": "after the upgrade"}
        assert (await sender.call("shout", {"text": "and later"}, timeout=10))["ok"]
        for client in listeners:
            assert await receive_event(client, "heard") == {"text": "and later"}
    manager = probe_site.realtime.sio.manager
    assert manager.path == "loop"
    warnings = [r for r in caplog.records if "direct frames turned off" in r.getMessage()]
    assert len(warnings) == 1
    status = probe_site.realtime.broadcast_status()
    assert status["path"] == "loop" and status["chosen"] == "direct" and "turned off" in status["reason"]


@pytest.mark.django_db(transaction=True)
async def test_healthz_says_which_path_is_in_use(probe_site):
    import json
    import urllib.request

    def get() -> dict:
        with urllib.request.urlopen(probe_site.url + "/healthz", timeout=5) as response:
            return json.loads(response.read())

    body = await asyncio.to_thread(get)
    broadcast_status = body["realtime"]["broadcast"]
    assert broadcast_status["path"] == "direct" and "tested library versions" in broadcast_status["reason"]


# ----- when a frame may be written directly ----------------------------------------
async def test_the_writer_is_idle_only_while_it_waits_with_nothing_queued() -> None:
    from engineio import packet as eio_packet

    from votemap_site.realtime import broadcast
    from votemap_site.realtime.edge import SendQueue

    queue = SendQueue(max_packets=10, max_bytes=10_000)
    assert not broadcast._writer_idle(queue), "no writer waits yet"
    writer = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert broadcast._writer_idle(queue)
    queue.put_nowait(eio_packet.Packet(eio_packet.MESSAGE, "2[]"))
    assert not broadcast._writer_idle(queue), "woken but not yet run: its packet is still queued"
    await writer
    assert not broadcast._writer_idle(queue), "it holds a packet it has not written yet"
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert queue.getters_waiting == 0 and not broadcast._writer_idle(queue)
