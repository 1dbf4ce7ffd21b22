"""Chat services and selectors: posting, idempotency, limits, closed rooms, moderation."""

import uuid

import pytest

from chat import selectors, services
from chat.models import Message, ModerationEvent
from votemap_site.realtime.errors import RealtimeError

pytestmark = pytest.mark.django_db


def post(room, text="hola gatos", **kwargs):
    defaults = dict(room_id=room.id, room_slug=room.slug, author="Ana", color="#0b57d0", sender_key="k1")
    return services.message_post(text=text, **{**defaults, **kwargs})


def test_post_stores_and_returns_the_message(rooms):
    message, created = post(rooms["cats"], text="  Hola\r\n gatos  ")
    assert created
    assert message["text"] == "Hola\n gatos"
    assert message["room"] == "cats" and message["author"] == "Ana" and message["color"] == "#0b57d0"
    assert message["created_at"].endswith("Z") and len(message["created_at"]) == 24
    assert Message.objects.get(id=message["id"]).text == "Hola\n gatos"


def test_client_id_makes_a_post_idempotent(rooms):
    cid = str(uuid.uuid4())
    first, created1 = post(rooms["cats"], client_id=cid)
    again, created2 = post(rooms["cats"], text="other text", client_id=cid)
    assert created1 and not created2
    assert again == first
    assert Message.objects.count() == 1
    # Another sender may use the same client id.
    _, created3 = post(rooms["cats"], client_id=cid, sender_key="k2")
    assert created3 and Message.objects.count() == 2


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "x" * 501, "bad\x00byte", "rtl\u202eoverride"])
def test_bad_text_is_invalid_and_stores_nothing(rooms, text):
    with pytest.raises(RealtimeError) as info:
        post(rooms["cats"], text=text)
    assert info.value.code == "invalid"
    assert Message.objects.count() == 0


def test_text_limits_count_after_trimming_and_nfc(rooms):
    message, _ = post(rooms["cats"], text="  " + "e\u0301" * 500 + "  ")
    assert message["text"] == "é" * 500


def test_closed_room_refuses_messages(rooms):
    room = rooms["dogs"]
    room.is_open = False
    room.save()
    with pytest.raises(RealtimeError) as info:
        post(room)
    assert info.value.code == "closed"
    assert Message.objects.count() == 0


def test_unknown_room_is_not_found(rooms):
    with pytest.raises(RealtimeError) as info:
        services.message_post(room_id=10_000, room_slug="nope", author="a", color="#000000",
                              sender_key="k", text="hola")
    assert info.value.code == "not_found"


@pytest.mark.parametrize("value, expected", [(" Ana ", "Ana"), ("x" * 32, "x" * 32), ("Zoë", "Zoë")])
def test_nickname_clean(value, expected):
    assert services.nickname_clean(value) == expected


@pytest.mark.parametrize("value", ["", "   ", "x" * 33, "tab\there", "new\nline", "\u202eevil"])
def test_nickname_clean_refuses(value):
    with pytest.raises(RealtimeError) as info:
        services.nickname_clean(value)
    assert info.value.code == "invalid"


def _luminance(hex_colour):
    def channel(c):
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def test_colours_are_stable_and_readable():
    assert services.nickname_color("Ana") == services.nickname_color("ana") == services.nickname_color("Ana")
    assert len({services.nickname_color(f"user{i}") for i in range(200)}) == len(services.PALETTE)
    for colour in services.PALETTE:
        assert (1.05) / (_luminance(colour) + 0.05) >= 4.5, colour


def test_default_nickname_is_stable_and_valid():
    a = services.nickname_default(seed="s:abc")
    assert a == services.nickname_default(seed="s:abc")
    assert services.nickname_clean(a) == a
    assert len({services.nickname_default(seed=f"s:{i}") for i in range(100)}) > 90


def test_newest_and_older_pages(rooms):
    ids = [post(rooms["cats"], text=f"mensaje {i}")[0]["id"] for i in range(120)]
    post(rooms["dogs"], text="otro cuarto")
    newest = selectors.message_list_newest(room_id=rooms["cats"].id, room_slug="cats")
    assert [m["id"] for m in newest] == ids[-50:]
    older = selectors.message_list_before(room_id=rooms["cats"].id, room_slug="cats", before_id=ids[70], limit=100)
    assert [m["id"] for m in older] == ids[:70]
    page = selectors.message_list_before(room_id=rooms["cats"].id, room_slug="cats", before_id=ids[70], limit=5)
    assert [m["id"] for m in page] == ids[65:70]


def test_delete_and_clear_record_moderation_events(rooms):
    ids = [post(rooms["cats"], text=f"m {i}")[0]["id"] for i in range(3)]
    other = post(rooms["dogs"], text="guau")[0]["id"]
    assert services.message_delete(message_ids=[ids[0], other]) == 2
    events = selectors.moderation_events_after(after_id=0)
    assert sorted((e["room_id"], tuple(e["message_ids"])) for e in events) == sorted(
        [(rooms["cats"].id, (ids[0],)), (rooms["dogs"].id, (other,))])
    last = selectors.moderation_last_id()
    assert services.room_clear_history(room_id=rooms["cats"].id) == 2
    event = selectors.moderation_events_after(after_id=last)[0]
    assert event["kind"] == "clear" and event["up_to_id"] == ids[2]
    assert not Message.objects.filter(room=rooms["cats"]).exists()
    assert ModerationEvent.objects.count() == 3
