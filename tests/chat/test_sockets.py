"""The /chat namespace through a live server: every event and error code."""

import asyncio
import time
import uuid

import pytest
import socketio

from chat.models import Message, Room
from chat.senders import STAFF_COLOR, sender_color, sender_tag
from tests.conftest import receive_event
from votemap_site.realtime.identity import public_id_for

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


async def call(client, event, payload):
    """`client.call`, waiting out `rate_limited` as the server asks (for
    tests that need more events than a burst allows)."""
    while True:
        ack = await client.call(event, payload)
        if ack["ok"] or ack["error"]["code"] != "rate_limited":
            return ack
        await asyncio.sleep(ack["error"]["retry_after"])


def words(trending):
    return [(w["word"], w["count"]) for w in trending["words"]]


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
    you = joined["you"]
    assert you["nickname"] == "Alice" and you["color"].startswith("#") and you["staff"] is False
    assert len(you["tag"]) == 4
    assert joined["messages"] == [] and joined["members"] == 1
    assert joined["trending"] == {"room": "cats", "window_seconds": 600, "words": []}
    assert data(await bob.call("join", {"room": "cats"}))["members"] == 2

    cid = str(uuid.uuid4())
    sent = data(await alice.call("send_message", {"room": "cats", "text": "  Gatos GATOS gatos  ", "client_id": cid}))
    message = sent["message"]
    assert set(message) == {"id", "room", "author", "color", "tag", "staff", "text", "created_at"}
    assert message["author"] == "Alice" and message["text"] == "Gatos GATOS gatos"
    assert message["tag"] == you["tag"] and message["color"] == you["color"] and message["staff"] is False
    assert await receive_event(bob, "message") == message
    assert await receive_event(alice, "message") == message  # the sender gets it too

    # A retry with the same client_id does not post twice.
    again = data(await alice.call("send_message", {"room": "cats", "text": "Gatos GATOS gatos", "client_id": cid}))
    assert again["message"] == message
    assert await no_event(bob, "message")
    assert await asyncio.to_thread(Message.objects.count) == 1

    # One sender is not enough to trend; a second one is. `count` is senders.
    data(await bob.call("send_message", {"room": "cats", "text": "gatos"}))
    trending = await next_matching(bob, "trending", lambda p: p["words"])
    assert trending["room"] == "cats" and trending["window_seconds"] == 600
    assert words(trending) == [("gatos", 2)]
    assert trending["words"][0]["score"] > 0

    # A late joiner gets the message and the trending words in its join ack.
    carol = await chat()
    joined = data(await carol.call("join", {"room": "cats"}))
    assert [m["id"] for m in joined["messages"]][:1] == [message["id"]]
    assert words(joined["trending"]) == [("gatos", 2)]


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
    # The burst of 5, then (sent back to back, faster than 3/s refill) at most one
    # more from the refill; every other one refused.
    assert codes[:5] == [True] * 5
    assert codes.count(True) <= 6
    assert set(codes[5:]) <= {True, "rate_limited"} and codes[5:].count("rate_limited") >= 2
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

    client, second_sender, third_sender = await chat(), await chat(), await chat()
    for c in (client, second_sender, third_sender):
        data(await c.call("join", {"room": "cats"}))
    first = data(await client.call("send_message", {"room": "cats", "text": "ratones pájaros"}))["message"]
    second = data(await second_sender.call("send_message", {"room": "cats", "text": "ratones pájaros"}))
    second = second["message"]
    third = data(await third_sender.call("send_message", {"room": "cats", "text": "pájaros"}))["message"]
    joined = data(await client.call("join", {"room": "cats"}))
    assert sorted(words(joined["trending"])) == [("pájaros", 3), ("ratones", 2)]
    await asyncio.to_thread(services.message_delete, message_ids=[first["id"]])
    assert await receive_event(client, "message_deleted", timeout=5) == {"room": "cats", "ids": [first["id"]]}
    joined = data(await client.call("join", {"room": "cats"}))
    assert [m["id"] for m in joined["messages"]] == [second["id"], third["id"]]
    # Rebuilt from the database without the deleted message: "ratones" has one sender left.
    assert words(joined["trending"]) == [("pájaros", 2)]
    room_id = await asyncio.to_thread(lambda: Room.objects.get(slug="cats").id)
    await asyncio.to_thread(services.room_clear_history, room_id=room_id)
    cleared = await receive_event(client, "history_cleared", timeout=5)
    assert cleared == {"room": "cats", "up_to_id": third["id"]}
    assert data(await client.call("join", {"room": "cats"}))["trending"]["words"] == []


async def test_trending_counts_messages_stored_by_another_worker(chat, live_site):
    """With several workers each one reads the others' messages from the
    database, sender included, and applies the same rule."""
    from chat import services

    client = await chat()
    data(await client.call("join", {"room": "dogs"}))
    namespace = live_site.realtime.namespace("/chat")
    namespace.sync_from_db = True
    room_id = await asyncio.to_thread(lambda: Room.objects.get(slug="dogs").id)
    # Stored without going through this worker, as another process would.
    for sender, text in [("elsewhere1", "pelota pelota parque"), ("elsewhere1", "pelota parque"),
                         ("elsewhere2", "pelota")]:
        await asyncio.to_thread(services.message_post, room_id=room_id, room_slug="dogs", author="Otro",
                                sender_key=sender, text=text)
    trending = await next_matching(client, "trending", lambda p: p["words"])
    assert words(trending) == [("pelota", 2)]


# ----- fairness of trending words ---------------------------------------------
async def test_one_sender_never_trends_however_many_connections(chat, make_session):
    cookies_a = await asyncio.to_thread(make_session)
    cookies_b = await asyncio.to_thread(make_session)
    observer = await chat()
    data(await observer.call("join", {"room": "cats"}))
    tabs = [await chat(cookies=cookies_a) for _ in range(3)]
    for tab in tabs:
        data(await tab.call("join", {"room": "cats"}))
    # One browser, three connections, many messages: "pelota" over and over.
    for i in range(4):
        for tab in tabs:
            data(await call(tab, "send_message", {"room": "cats", "text": f"Pelota PELOTA pelota {'¡' * i}"}))
    data(await call(tabs[0], "send_message", {"room": "cats", "text": "parque"}))
    # A second browser shares "parque" only: it trends, "pelota" does not.
    other = await chat(cookies=cookies_b)
    data(await other.call("join", {"room": "cats"}))
    data(await other.call("send_message", {"room": "cats", "text": "parque"}))
    seen = []

    def parque_trends(payload):
        seen.append(payload)
        return ("parque", 2) in words(payload)

    await next_matching(observer, "trending", parque_trends, timeout=10)
    assert all(w["word"] != "pelota" for p in seen for w in p["words"])
    assert words(data(await observer.call("join", {"room": "cats"}))["trending"]) == [("parque", 2)]
    # The second browser says "pelota" once: now it trends, with two senders.
    data(await other.call("send_message", {"room": "cats", "text": "pelota"}))
    trending = await next_matching(observer, "trending", lambda p: ("pelota", 2) in words(p), timeout=10)
    assert sorted(words(trending)) == [("parque", 2), ("pelota", 2)]


@pytest.fixture
def short_window(settings):
    """Set before the live server is built (request it before `chat`)."""
    settings.CHAT_TRENDING_WINDOW_SECONDS = 3
    return 3


async def test_trending_words_leave_the_window(short_window, chat):
    observer, a, b = await chat(), await chat(), await chat()
    joined = data(await observer.call("join", {"room": "dogs"}))
    assert joined["trending"]["window_seconds"] == short_window
    for client in (a, b):
        data(await client.call("join", {"room": "dogs"}))
        data(await client.call("send_message", {"room": "dogs", "text": "efímero"}))
    await next_matching(observer, "trending", lambda p: ("efímero", 2) in words(p), timeout=10)
    # No one says it again: it leaves the window and an empty list is pushed.
    await next_matching(observer, "trending", lambda p: p["words"] == [], timeout=short_window + 10)
    assert data(await observer.call("join", {"room": "dogs"}))["trending"]["words"] == []


# ----- who is who ----------------------------------------------------------------
async def sessions_with_different_colours(make_session):
    """Two browser sessions whose sender colours differ (12 colours: one pair in
    twelve shares one, and then only the tag tells them apart)."""
    first = await asyncio.to_thread(make_session)
    while True:
        second = await asyncio.to_thread(make_session)
        ids = [public_id_for("s:" + next(iter(c.values()))) for c in (first, second)]
        if sender_color(ids[0]) != sender_color(ids[1]):
            return first, second, ids


async def test_same_nickname_different_tags_and_colours(chat, make_session):
    first, second, ids = await sessions_with_different_colours(make_session)
    sams = [await chat(cookies=c) for c in (first, second)]
    yous = [data(await sam.call("join", {"room": "cats", "nickname": "Sam"}))["you"] for sam in sams]
    messages = [
        data(await sam.call("send_message", {"room": "cats", "text": "soy Sam"}))["message"] for sam in sams
    ]
    assert [m["author"] for m in messages] == ["Sam", "Sam"]
    assert messages[0]["tag"] != messages[1]["tag"]
    assert messages[0]["color"] != messages[1]["color"]
    for you, message, public_id in zip(yous, messages, ids, strict=True):
        assert you["tag"] == message["tag"] == sender_tag(public_id)
        assert you["color"] == message["color"] == sender_color(public_id)
    # A new nickname keeps the sender's tag and colour.
    renamed = data(await sams[0].call("set_nickname", {"nickname": "Samuel"}))
    assert (renamed["tag"], renamed["color"]) == (yous[0]["tag"], yous[0]["color"])


@pytest.fixture
def staff_cookies(make_session, django_user_model):
    user = django_user_model.objects.create_user(username="Moderadora", password="x", is_staff=True)
    return make_session(user=user)


async def test_a_stranger_cannot_take_a_staff_nickname(chat, staff_cookies, make_session):
    staff = await chat(cookies=staff_cookies)
    you = data(await staff.call("join", {"room": "cats", "nickname": "La Jefa"}))["you"]
    assert you["staff"] is True and you["color"] == STAFF_COLOR
    message = data(await staff.call("send_message", {"room": "cats", "text": "bienvenidos"}))["message"]
    assert message["staff"] is True and message["color"] == STAFF_COLOR and message["author"] == "La Jefa"

    stranger = await chat(cookies=await asyncio.to_thread(make_session))
    data(await stranger.call("join", {"room": "cats", "nickname": "Curioso"}))
    for name in ["Moderadora", "moderadora", "ＭＯＤＥＲＡＤＯＲＡ", "La Jefa", "la jefa", " LA JEFA "]:
        ack = await call(stranger, "set_nickname", {"nickname": name})
        assert error(ack) == "invalid" and ack["error"]["reason"] == "nickname_reserved", name
        assert "reserved" in ack["error"]["message"]
    ack = await call(stranger, "join", {"room": "dogs", "nickname": "Ｌａ Ｊｅｆａ"})
    assert error(ack) == "invalid" and ack["error"]["reason"] == "nickname_reserved"
    assert error(await stranger.call("send_message", {"room": "dogs", "text": "hola"})) == "not_joined"
    mine = data(await stranger.call("send_message", {"room": "cats", "text": "hola"}))["message"]
    assert mine["author"] == "Curioso" and mine["staff"] is False and mine["color"] != STAFF_COLOR
    # A cookie-less client is refused too.
    anonymous = await chat()
    assert error(await anonymous.call("set_nickname", {"nickname": "moderadora"})) == "invalid"


async def test_a_name_staff_take_later_is_given_up(chat, staff_cookies, make_session):
    stranger_cookies = await asyncio.to_thread(make_session)
    stranger = await chat(cookies=stranger_cookies)
    data(await stranger.call("join", {"room": "cats", "nickname": "Boss"}))
    staff = await chat(cookies=staff_cookies)
    data(await staff.call("join", {"room": "cats", "nickname": "Boss"}))
    message = data(await stranger.call("send_message", {"room": "cats", "text": "hola"}))["message"]
    assert message["author"] != "Boss"
    # And it is not given back on the next connection either.
    again = await chat(cookies=stranger_cookies)
    assert data(await again.call("join", {"room": "cats"}))["you"]["nickname"] == message["author"]


async def test_rooms_per_connection_are_capped(chat, settings):
    assert settings.CHAT_MAX_ROOMS_PER_CONNECTION == 20

    def create_rooms():
        for i in range(20):
            Room.objects.create(slug=f"extra-{i}", name=f"Extra {i}")

    await asyncio.to_thread(create_rooms)
    client = await chat()
    slugs = ["cats", "dogs"] + [f"extra-{i}" for i in range(18)]
    for slug in slugs:
        data(await call(client, "join", {"room": slug}))
    ack = await call(client, "join", {"room": "extra-18"})
    assert error(ack) == "invalid" and ack["error"]["reason"] == "too_many_rooms"
    assert "20" in ack["error"]["message"]
    assert error(await call(client, "send_message", {"room": "extra-18", "text": "hola"})) == "not_joined"
    lister = await chat()
    members = {r["slug"]: r["members"] for r in data(await lister.call("list_rooms", {}))["rooms"]}
    assert members["extra-18"] == 0 and members["extra-17"] == 1
    # Joining a room again is not a new room; leaving one makes space.
    data(await call(client, "join", {"room": "cats"}))
    data(await call(client, "leave", {"room": "cats"}))
    data(await call(client, "join", {"room": "extra-18"}))


# ----- bounded memory -------------------------------------------------------------
async def wait_until(condition, timeout=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_per_connection_state_is_dropped_with_the_last_connection(chat, make_session, live_site):
    namespace = live_site.realtime.namespace("/chat")
    cookies = await asyncio.to_thread(make_session)
    key = "s:" + next(iter(cookies.values()))
    tabs = [await chat(cookies=cookies) for _ in range(3)]
    for tab in tabs:
        data(await tab.call("join", {"room": "cats", "nickname": "Pestañas"}))
    assert namespace._connections[key] == 3 and namespace._nicknames[key] == "Pestañas"
    await tabs[0].disconnect()
    await wait_until(lambda: namespace._connections.get(key) == 2)
    # The other tabs keep the nickname; it goes with the last one.
    assert namespace._nicknames[key] == "Pestañas"
    for tab in tabs[1:]:
        await tab.disconnect()
    await wait_until(lambda: key not in namespace._connections)
    assert key not in namespace._nicknames
    assert not namespace._joined


async def test_state_of_a_deleted_room_is_dropped(chat, live_site):
    namespace = live_site.realtime.namespace("/chat")
    a, b = await chat(), await chat()
    for client in (a, b):
        data(await client.call("join", {"room": "dogs"}))
        data(await client.call("send_message", {"room": "dogs", "text": "hueso"}))
    await next_matching(a, "trending", lambda p: ("hueso", 2) in words(p))
    assert "dogs" in namespace._windows and "dogs" in namespace._last_trending
    await asyncio.to_thread(Room.objects.filter(slug="dogs").delete)
    event = await receive_event(a, "room", timeout=5)
    assert event["slug"] == "dogs" and event["removed"] is True
    for table in (namespace._rooms, namespace._windows, namespace._last_trending, namespace._last_members):
        assert "dogs" not in table


async def test_counted_message_ids_are_capped(chat, live_site):
    from chat import sockets

    namespace = live_site.realtime.namespace("/chat")
    client = await chat()
    data(await client.call("join", {"room": "cats"}))
    now = time.time()

    async def flood():  # on the server's own event loop, as its handlers run
        for i in range(sockets.COUNTED_MAX + 500):
            namespace._count("cats", 10_000_000 + i, "palabra", now, "flooder")

    loop = namespace._tick._task.get_loop()
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(flood(), loop))
    assert len(namespace._counted) <= sockets.COUNTED_MAX
    assert 10_000_000 + sockets.COUNTED_MAX + 499 in namespace._counted  # the newest are kept


async def test_a_staff_default_nickname_is_reserved_too(chat, staff_cookies):
    staff = await chat(cookies=staff_cookies)
    default = data(await staff.call("join", {"room": "cats"}))["you"]["nickname"]
    stranger = await chat()
    ack = await stranger.call("set_nickname", {"nickname": default.upper()})
    assert error(ack) == "invalid" and ack["error"]["reason"] == "nickname_reserved"
