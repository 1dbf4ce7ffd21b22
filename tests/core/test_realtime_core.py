"""The realtime core through a live server: envelope, every error code,
validation, rate limits and flood disconnect, internal errors, identity,
Origin allow-list. Uses a probe namespace registered only for these tests."""

import asyncio

import pytest
import socketio
from django.contrib.auth import get_user_model

from tests.conftest import receive_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def probe_site(settings, request):
    settings.SOCKETIO_NAMESPACES = [*settings.SOCKETIO_NAMESPACES, ("/probe", "tests.core.probe.ProbeNamespace")]
    settings.RATE_LIMIT_FLOOD_STRIKES = 6
    settings.RATE_LIMIT_FLOOD_WINDOW = 30.0
    return request.getfixturevalue("live_site")


@pytest.fixture
async def probe(probe_site, sio_client):
    return await sio_client("/probe")


async def test_success_envelope(probe) -> None:
    assert await probe.call("echo", {"text": "hola", "n": 3}) == {"ok": True, "data": {"text": "hola", "n": 3}}


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ({}, "text"),  # missing key
        ({"text": "x", "author": "mallory"}, "author: unknown key"),
        ({"text": 5}, "text"),  # wrong type
        ({"text": "x", "n": "5"}, "n"),  # no coercion from string
        ({"text": "x" * 21}, "text"),  # too long
        ({"text": "x", "n": True}, "n"),  # bool is not an int
    ],
)
async def test_invalid_payloads(probe, payload, fragment) -> None:
    ack = await probe.call("echo", payload)
    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid"
    assert fragment in ack["error"]["message"]


@pytest.mark.parametrize("args", [["just a string"], [[1, 2]], [None], [7]])
async def test_non_object_payloads_are_invalid(probe, args) -> None:
    ack = await probe.call("echo", *args)
    assert ack["error"]["code"] == "invalid"


async def test_extra_positional_arguments_are_invalid(probe) -> None:
    # AsyncSimpleClient.call sends one argument; go one level down for two.
    ack = await probe.client.call("echo", ({"text": "a"}, {"text": "b"}), namespace="/probe")
    assert ack["error"]["code"] == "invalid"


async def test_unknown_event(probe) -> None:
    ack = await probe.call("drop_tables", {})
    assert ack == {"ok": False, "error": {"code": "unknown_event", "message": "unknown event 'drop_tables'"}}


async def test_reserved_event_names_cannot_be_spoofed(probe) -> None:
    for name in ("disconnect", "connect"):
        ack = await probe.call(name, {})
        assert ack["error"]["code"] == "unknown_event"
    # still connected and working
    assert (await probe.call("echo", {"text": "ok"}))["ok"] is True


async def test_handler_exception_is_internal_and_logged(probe, caplog) -> None:
    ack = await probe.call("boom", {})
    assert ack["error"]["code"] == "internal"
    assert "secret" not in ack["error"]["message"]
    assert any("event=boom" in r.getMessage() and "namespace=/probe" in r.getMessage() for r in caplog.records)
    # the connection survives
    assert (await probe.call("echo", {"text": "still here"}))["data"]["text"] == "still here"


async def test_realtime_error_codes(probe) -> None:
    assert (await probe.call("lookup", {"key": "x"}))["error"]["code"] == "not_found"
    assert (await probe.call("staff_only", {}))["error"]["code"] == "forbidden"


async def test_rate_limited_with_retry_after_then_recovers(probe) -> None:
    acks = [await probe.call("echo", {"text": str(i)}) for i in range(4)]
    assert [a["ok"] for a in acks[:3]] == [True, True, True]
    refused = acks[3]
    assert refused["error"]["code"] == "rate_limited"
    assert 0 < refused["error"]["retry_after"] <= 0.5
    # Waiting retry_after is what the client is told to do; then it is served again
    # (on a busy machine maybe one refusal later: retried within a deadline, and
    # slowly, so that the retries themselves are not a flood).
    await asyncio.sleep(refused["error"]["retry_after"])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not (await probe.call("echo", {"text": "again"}))["ok"]:
        assert loop.time() < deadline, "the bucket never refilled"
        await asyncio.sleep(0.5)


async def test_rate_limits_are_per_connection(probe_site, sio_client) -> None:
    first = await sio_client("/probe")
    second = await sio_client("/probe")
    for _ in range(3):
        assert (await first.call("echo", {"text": "a"}))["ok"]
    assert (await first.call("echo", {"text": "a"}))["error"]["code"] == "rate_limited"
    assert (await second.call("echo", {"text": "b"}))["ok"] is True


async def test_flooding_client_is_disconnected(probe_site, sio_client) -> None:
    flooder = await sio_client("/probe")
    flooder_eio_sid = flooder.client.eio.sid
    bystander = await sio_client("/probe")
    codes = []
    for i in range(20):
        try:
            ack = await flooder.call("echo", {"text": "x"}, timeout=2)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.DisconnectedError):
            break
        codes.append(ack["ok"] or ack["error"]["code"])
    assert "rate_limited" in codes
    # The whole Engine.IO connection is closed (the client may then open a new one,
    # which starts with no more than its session or address allows).
    sockets = probe_site.realtime.sio.eio.sockets
    for _ in range(100):
        if flooder_eio_sid not in sockets:
            break
        await asyncio.sleep(0.05)
    assert flooder_eio_sid not in sockets
    assert (await bystander.call("echo", {"text": "fine"}))["ok"] is True


async def test_anonymous_identity_without_cookie(probe) -> None:
    me = (await probe.call("whoami", {}))["data"]
    assert me["has_session"] is False and me["is_staff"] is False and me["username"] is None
    assert len(me["public_id"]) == 16


async def test_identity_from_session_cookie_is_stable(probe_site, sio_client, make_session) -> None:
    cookies = make_session()
    a = (await (await sio_client("/probe", cookies=cookies)).call("whoami", {}))["data"]
    b = (await (await sio_client("/probe", cookies=cookies)).call("whoami", {}))["data"]
    other = (await (await sio_client("/probe", cookies=make_session())).call("whoami", {}))["data"]
    assert a["has_session"] and a["public_id"] == b["public_id"] != other["public_id"]


async def test_forged_session_cookie_is_anonymous(probe_site, sio_client) -> None:
    client = await sio_client("/probe", cookies={"sessionid": "forged0000000000000000000000000"})
    me = (await client.call("whoami", {}))["data"]
    assert me["has_session"] is False


async def test_staff_detection(probe_site, sio_client, make_session) -> None:
    from asgiref.sync import sync_to_async

    User = get_user_model()
    staff = await sync_to_async(User.objects.create_user)("ana", password="pw-123456789", is_staff=True)
    plain = await sync_to_async(User.objects.create_user)("bob", password="pw-123456789")
    staff_client = await sio_client("/probe", cookies=make_session(user=staff))
    plain_client = await sio_client("/probe", cookies=make_session(user=plain))
    assert (await staff_client.call("whoami", {}))["data"] == {
        "public_id": (await staff_client.call("whoami", {}))["data"]["public_id"],
        "has_session": True, "is_staff": True, "username": "ana",
    }
    assert (await staff_client.call("staff_only", {}))["ok"] is True
    assert (await plain_client.call("staff_only", {}))["error"]["code"] == "forbidden"


async def test_session_of_a_user_whose_password_changed_is_not_staff(probe_site, sio_client, make_session) -> None:
    from asgiref.sync import sync_to_async

    User = get_user_model()
    staff = await sync_to_async(User.objects.create_user)("eva", password="pw-123456789", is_staff=True)
    cookies = make_session(user=staff)
    staff.set_password("another-pw-987654")
    await sync_to_async(staff.save)()
    client = await sio_client("/probe", cookies=cookies)
    me = (await client.call("whoami", {}))["data"]
    assert me["is_staff"] is False and me["username"] is None


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_foreign_origin_is_refused(probe_site, sio_client, transport) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio_client("/probe", headers={"Origin": "http://evil.example"}, transports=[transport])


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_own_origin_is_accepted(probe_site, sio_client, transport) -> None:
    client = await sio_client("/probe", headers={"Origin": probe_site.url}, transports=[transport])
    assert (await client.call("echo", {"text": "hi"}))["ok"] is True


async def test_configured_origin_allow_list(settings, probe_site, sio_client) -> None:
    settings.SOCKETIO_ALLOWED_ORIGINS = ["https://votes.example.org"]
    client = await sio_client("/probe", headers={"Origin": "https://votes.example.org"})
    assert client.connected
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio_client("/probe", headers={"Origin": probe_site.url})


async def test_oversized_packet_is_dropped_by_the_transport(probe_site, sio_client, settings) -> None:
    client = await sio_client("/probe")
    big = "x" * (settings.SOCKETIO_MAX_HTTP_BUFFER_SIZE + 10)
    with pytest.raises((socketio.exceptions.TimeoutError, socketio.exceptions.DisconnectedError)):
        await client.call("echo", {"text": big}, timeout=2)
    healthy = await sio_client("/probe")
    assert (await healthy.call("echo", {"text": "ok"}))["ok"] is True


async def test_lobby_counts_connections_per_namespace(probe_site, sio_client) -> None:
    lobby = await sio_client("/lobby")
    assert await receive_event(lobby, "stats") == {"map": 0, "chat": 0, "game": 0}
    await sio_client("/map-dashboard")
    await sio_client("/map-dashboard")
    await sio_client("/chat")
    for _ in range(20):
        stats = await receive_event(lobby, "stats", timeout=3)
        if stats == {"map": 2, "chat": 1, "game": 0}:
            break
    assert stats == {"map": 2, "chat": 1, "game": 0}
    assert (await lobby.call("get_stats", {}))["data"] == stats
