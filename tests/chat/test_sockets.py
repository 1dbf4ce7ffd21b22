"""The /chat namespace through a live server: every event and error code."""

import asyncio
import uuid

import pytest
import socketio

from chat.models import Message, Room
from tests.conftest import receive_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def chat(rooms, live_site, sio_client):
    async def connect(**kwargs):
        return await sio_client("/chat", **kwargs)

    return connect


async def next_matching(client, event, predicate, timeout=5.0):
    """The first `event` whose payload satisfies `predicate` (earlier ones are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        payload = await receive_event(client, event, timeout=max(0.01, deadline - loop.time()))
        if predicate(payload):
            return payload


def members(count, room="dogs"):
    return lambda p: p == {"room": room, "count": count}


def data(ack):
    assert ack["ok"] is True, ack
    return ack["data"]


def error(ack):
    assert ack["ok"] is False, ack
    return ack["error"]["code"]


async def no_event(client, event, timeout=0.6):
    """True when `event` does not arrive within `timeout` (other events are skipped)."""
    try:
        await receive_event(client, event, timeout=timeout)
    except (TimeoutError, socketio.exceptions.TimeoutError):
        return True
    return False


async def test_list_rooms(chat):
    client = await chat()
    rooms = data(await client.call("list_rooms", {}))["rooms"]
    assert {r["slug"]: r["name"] for r in rooms} == {"cats": "Gatos", "dogs": "Perros"}
    assert all(set(r) >= {"slug", "name", "description", "members"} and r["members"] == 0 for r in rooms)


async def test_join_send_and_receive(chat):
    alice, bob = await chat(), await chat()
    joined = data(await alice.call("join", {"room": "cats", "nickname": "Alice"}))
    assert joined["room"]["slug"] == "cats" and joined["room"]["name"] == "Gatos"
    assert len(joined["room"]["sentences"]) >= 8
    assert joined["you"]["nickname"] == "Alice" and joined["you"]["color"].startswith("#")
    assert joined["messages"] == [] and joined["members"] == 1
    assert joined["trending"] == {"room": "cats", "window_seconds": 600, "words": []}
    assert data(await bob.call("join", {"room": "cats"}))["members"] == 2

    cid = str(uuid.uuid4())
    sent = data(await alice.call("send_message", {"room": "cats", "text": "  Gatos GATOS gatos  ", "client_id": cid}))
    message = sent["message"]
    assert set(message) == {"id", "room", "author", "color", "text", "created_at"}
    assert message["author"] == "Alice" and message["text"] == "Gatos GATOS gatos"
    assert await receive_event(bob, "message") == message
    assert await receive_event(alice, "message") == message  # the sender gets it too

    # A retry with the same client_id does not post twice.
    again = data(await alice.call("send_message", {"room": "cats", "text": "Gatos GATOS gatos", "client_id": cid}))
    assert again["message"] == message
    assert await no_event(bob, "message")
    assert await asyncio.to_thread(Message.objects.count) == 1

    trending = await next_matching(bob, "trending", lambda p: p["words"])
    assert trending["room"] == "cats" and trending["window_seconds"] == 600
    assert [(w["word"], w["count"]) for w in trending["words"]] == [("gatos", 3)]
    assert trending["words"][0]["score"] > 0

    # A late joiner gets the message and the trending words in its join ack.
    carol = await chat()
    joined = data(await carol.call("join", {"room": "cats"}))
    assert [m["id"] for m in joined["messages"]] == [message["id"]]
    assert joined["trending"]["words"][0]["word"] == "gatos"


async def test_members_counts_follow_join_leave_and_disconnect(chat):
    watcher = await chat()
    data(await watcher.call("join", {"room": "dogs"}))
    lister = await chat()
    data(await lister.call("list_rooms", {}))
    other = await chat()
    data(await other.call("join", {"room": "dogs"}))
    await next_matching(watcher, "members", members(2))
    await next_matching(lister, "members", members(2))
    data(await other.call("leave", {"room": "dogs"}))
    await next_matching(watcher, "members", members(1))
    data(await other.call("join", {"room": "dogs"}))
    await next_matching(watcher, "members", members(2))
    await other.disconnect()
    await next_matching(watcher, "members", members(1))
    rooms = data(await lister.call("list_rooms", {}))["rooms"]
    assert {r["slug"]: r["members"] for r in rooms} == {"cats": 0, "dogs": 1}


async def test_a_non_member_does_not_receive_messages(chat):
    member, outsider, lister = await chat(), await chat(), await chat()
    data(await member.call("join", {"room": "cats"}))
    data(await lister.call("list_rooms", {}))
    data(await member.call("send_message", {"room": "cats", "text": "solo para miembros"}))
    assert await no_event(outsider, "message")
    assert await no_event(lister, "message", timeout=0.2)


async def test_two_rooms_see_only_their_own(chat):
    cats, dogs = await chat(), await chat()
    data(await cats.call("join", {"room": "cats"}))
    data(await dogs.call("join", {"room": "dogs"}))
    data(await cats.call("send_message", {"room": "cats", "text": "miau"}))
    data(await dogs.call("send_message", {"room": "dogs", "text": "guau"}))
    assert (await receive_event(cats, "message"))["text"] == "miau"
    assert (await receive_event(dogs, "message"))["text"] == "guau"
    assert await no_event(cats, "message")
    assert await no_event(dogs, "message", timeout=0.2)


async def test_history_pages_older_messages(chat):
    client = await chat()
    data(await client.call("join", {"room": "cats"}))
    ids = [data(await client.call("send_message", {"room": "cats", "text": f"mensaje {i}"}))["message"]["id"]
           for i in range(5)]
    await asyncio.sleep(0)
    page = data(await client.call("history", {"room": "cats", "before_id": ids[3], "limit": 2}))["messages"]
    assert [m["id"] for m in page] == ids[1:3]
    assert data(await client.call("history", {"room": "cats", "before_id": ids[0], "limit": 100}))["messages"] == []


@pytest.mark.parametrize(
    "event, payload",
    [
        ("send_message", {"room": "cats", "text": "hola", "author": "mallory"}),
        ("send_message", {"room": "cats", "text": ""}),
        ("send_message", {"room": "cats", "text": "   "}),
        ("send_message", {"room": "cats", "text": "x" * 501}),
        ("send_message", {"room": "cats", "text": 5}),
        ("send_message", {"room": "cats", "text": "hola", "client_id": "not-a-uuid"}),
        ("send_message", {"room": "Not a slug!", "text": "hola"}),
        ("join", {"room": "cats", "nickname": ""}),
        ("join", {"room": "cats", "nickname": "x" * 33}),
        ("join", {"room": "cats", "nickname": "bad\nname"}),
        ("join", {}),
        ("history", {"room": "cats", "before_id": 10, "limit": 0}),
        ("history", {"room": "cats", "before_id": 10, "limit": 101}),
        ("history", {"room": "cats", "before_id": "10", "limit": 5}),
        ("history", {"room": "cats", "before_id": True, "limit": 5}),
        ("list_rooms", {"x": 1}),
        ("set_nickname", {"nickname": "   "}),
    ],
)
async def test_invalid_payloads_change_nothing(chat, event, payload):
    client, other = await chat(), await chat()
    data(await client.call("join", {"room": "cats", "nickname": "Original"}))
    data(await other.call("join", {"room": "cats"}))
    assert error(await client.call(event, payload)) == "invalid"
    assert await asyncio.to_thread(Message.objects.count) == 0
    # The nickname was not changed by a refused payload.
    assert data(await client.call("join", {"room": "cats"}))["you"]["nickname"] == "Original"
    assert await no_event(other, "message", timeout=0.2)


async def test_not_found_and_not_joined(chat):
    client = await chat()
    assert error(await client.call("join", {"room": "birds"})) == "not_found"
    assert error(await client.call("send_message", {"room": "birds", "text": "pío"})) == "not_found"
    assert error(await client.call("send_message", {"room": "cats", "text": "miau"})) == "not_joined"
    assert error(await client.call("history", {"room": "cats", "before_id": 5, "limit": 5})) == "not_joined"
    assert error(await client.call("leave", {"room": "cats"})) == "not_joined"
    assert error(await client.call("leave", {"room": "birds"})) == "not_found"
    data(await client.call("join", {"room": "cats"}))
    data(await client.call("leave", {"room": "cats"}))
    assert error(await client.call("send_message", {"room": "cats", "text": "miau"})) == "not_joined"


async def test_unknown_event(chat):
    client = await chat()
    assert error(await client.call("shout", {"room": "cats"})) == "unknown_event"


async def test_send_rate_limit(chat, settings):
    client = await chat()
    data(await client.call("join", {"room": "cats"}))
    acks = [await client.call("send_message", {"room": "cats", "text": f"rápido {i}"}) for i in range(8)]
    codes = [a["ok"] if a["ok"] else a["error"]["code"] for a in acks]
    assert codes[:5] == [True] * 5
    assert "rate_limited" in codes[5:]
    limited = next(a for a in acks if not a["ok"])
    assert limited["error"]["retry_after"] > 0
    stored = await asyncio.to_thread(Message.objects.count)
    assert stored == codes.count(True)


async def test_closed_room(chat):
    client = await chat()
    data(await client.call("join", {"room": "dogs"}))
    await asyncio.to_thread(Room.objects.filter(slug="dogs").update, is_open=False)
    assert error(await client.call("send_message", {"room": "dogs", "text": "guau"})) == "closed"
    event = await receive_event(client, "room", timeout=5)
    assert event["slug"] == "dogs" and event["open"] is False
    assert await asyncio.to_thread(Message.objects.count) == 0
    # Closed rooms leave the list; reopening is announced too.
    lister = await chat()
    assert [r["slug"] for r in data(await lister.call("list_rooms", {}))["rooms"]] == ["cats"]
    await asyncio.to_thread(Room.objects.filter(slug="dogs").update, is_open=True)
    assert (await receive_event(client, "room", timeout=5))["open"] is True
    assert data(await client.call("send_message", {"room": "dogs", "text": "guau"}))["message"]["text"] == "guau"


async def test_nickname_from_session(chat, make_session):
    cookies = await asyncio.to_thread(make_session, chat_nickname="Lucía")
    client = await chat(cookies=cookies)
    joined = data(await client.call("join", {"room": "cats"}))
    assert joined["you"]["nickname"] == "Lucía"
    sent = data(await client.call("send_message", {"room": "cats", "text": "hola"}))["message"]
    assert sent["author"] == "Lucía" and sent["color"] == joined["you"]["color"]
    # A change is kept in the session: a new connection of the same browser has it.
    assert data(await client.call("set_nickname", {"nickname": "Lucía G."}))["nickname"] == "Lucía G."
    again = await chat(cookies=cookies)
    assert data(await again.call("join", {"room": "cats"}))["you"]["nickname"] == "Lucía G."


async def test_default_nickname_is_kept_in_the_session(chat, make_session):
    cookies = await asyncio.to_thread(make_session)
    first = data(await (await chat(cookies=cookies)).call("join", {"room": "cats"}))["you"]
    second = data(await (await chat(cookies=cookies)).call("join", {"room": "cats"}))["you"]
    assert first == second and 1 <= len(first["nickname"]) <= 32
    anonymous = data(await (await chat()).call("join", {"room": "cats"}))["you"]
    assert anonymous["nickname"] != first["nickname"]


async def test_deleted_messages_and_cleared_history_reach_clients(chat):
    from chat import services

    client = await chat()
    data(await client.call("join", {"room": "cats"}))
    first = data(await client.call("send_message", {"room": "cats", "text": "ratones ratones"}))["message"]
    second = data(await client.call("send_message", {"room": "cats", "text": "pájaros"}))["message"]
    await asyncio.to_thread(services.message_delete, message_ids=[first["id"]])
    assert await receive_event(client, "message_deleted", timeout=5) == {"room": "cats", "ids": [first["id"]]}
    joined = data(await client.call("join", {"room": "cats"}))
    assert [m["id"] for m in joined["messages"]] == [second["id"]]
    assert [w["word"] for w in joined["trending"]["words"]] == ["pájaros"]
    room_id = await asyncio.to_thread(lambda: Room.objects.get(slug="cats").id)
    await asyncio.to_thread(services.room_clear_history, room_id=room_id)
    assert await receive_event(client, "history_cleared", timeout=5) == {"room": "cats", "up_to_id": second["id"]}
    assert data(await client.call("join", {"room": "cats"}))["trending"]["words"] == []


async def test_trending_counts_messages_stored_by_another_worker(chat, live_site):
    """With several workers each one reads the others' messages from the database."""
    from chat import services

    client = await chat()
    data(await client.call("join", {"room": "dogs"}))
    namespace = live_site.realtime.namespace("/chat")
    namespace.sync_from_db = True
    room_id = await asyncio.to_thread(lambda: Room.objects.get(slug="dogs").id)
    # Stored without going through this worker, as another process would.
    await asyncio.to_thread(services.message_post, room_id=room_id, room_slug="dogs", author="Otro",
                            color="#0b57d0", sender_key="elsewhere", text="pelota pelota parque")
    trending = await next_matching(client, "trending", lambda p: p["words"])
    assert [(w["word"], w["count"]) for w in trending["words"]] == [("pelota", 2), ("parque", 1)]
