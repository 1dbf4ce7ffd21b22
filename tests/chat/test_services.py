"""Chat services and selectors: posting, idempotency, limits, closed rooms, moderation."""

import uuid

import pytest
from hypothesis import given, strategies as st

from chat import selectors, senders, services
from chat.models import Message, ModerationEvent
from votemap_site.realtime.errors import RealtimeError

pytestmark = pytest.mark.django_db


def post(room, text="hola gatos", **kwargs):
    defaults = dict(room_id=room.id, room_slug=room.slug, author="Ana", sender_key="k1")
    return services.message_post(text=text, **{**defaults, **kwargs})


def test_post_stores_and_returns_the_message(rooms):
    message, created = post(rooms["cats"], text="  Hola\r\n gatos  ")
    assert created
    assert message["text"] == "Hola\n gatos"
    assert message["room"] == "cats" and message["author"] == "Ana"
    assert message["color"] == senders.sender_color("k1") and message["tag"] == senders.sender_tag("k1")
    assert message["staff"] is False
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
        services.message_post(room_id=10_000, room_slug="nope", author="a", sender_key="k", text="hola")
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


def test_colours_are_per_sender_stable_and_readable():
    assert senders.sender_color("k1") == senders.sender_color("k1")
    assert len({senders.sender_color(f"sender{i}") for i in range(200)}) == len(senders.PALETTE)
    for colour in senders.PALETTE + (senders.STAFF_COLOR,):
        assert (1.05) / (_luminance(colour) + 0.05) >= 4.5, colour
    # The staff colour is theirs alone.
    assert senders.STAFF_COLOR not in senders.PALETTE
    assert senders.sender_color("k1", staff=True) == senders.STAFF_COLOR


@given(st.text(min_size=1, max_size=32))
def test_tags_are_short_and_readable(key):
    tag = senders.sender_tag(key)
    assert len(tag) == 4 and set(tag) <= set(senders.TAG_ALPHABET)
    assert not set(tag) & set("ilou")


def test_tags_tell_senders_apart():
    tags = {senders.sender_tag(f"{i:016x}") for i in range(2000)}
    # 20 bits: 2000 senders share hardly any tag (about 2 pairs expected).
    assert len(tags) >= 1990


def test_colour_and_tag_come_from_the_sender_not_the_nickname(rooms):
    a, _ = post(rooms["cats"], author="Moderator", sender_key="stranger1")
    b, _ = post(rooms["cats"], author="Moderator", sender_key="stranger2")
    staff, _ = post(rooms["cats"], author="Moderator", sender_key="boss", staff=True)
    assert a["author"] == b["author"] == staff["author"]
    assert a["tag"] != b["tag"] != staff["tag"]
    assert staff["staff"] is True and staff["color"] == senders.STAFF_COLOR
    assert senders.STAFF_COLOR not in (a["color"], b["color"])


def test_default_nickname_is_stable_and_valid():
    a = services.nickname_default(seed="s:abc")
    assert a == services.nickname_default(seed="s:abc")
    assert services.nickname_clean(a) == a
    assert len({services.nickname_default(seed=f"s:{i}") for i in range(100)}) > 90


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(username="Moderadora", password="x", is_staff=True)


@pytest.mark.parametrize(
    "value", ["Moderadora", "moderadora", " MODERADORA ", "Ｍｏｄｅｒａｄｏｒａ", "La Jefa", "LA JEFA", "ｌａ ｊｅｆａ"]
)
def test_staff_names_are_reserved(staff_user, value):
    services.staff_nickname_record(user_id=staff_user.id, nickname="La Jefa")
    with pytest.raises(RealtimeError) as info:
        services.nickname_claim(value=value, is_staff=False, user_id=None)
    assert info.value.code == "invalid"
    assert info.value.to_ack()["error"]["reason"] == "nickname_reserved"
    assert "reserved" in info.value.message


def test_staff_may_take_any_name_and_it_becomes_reserved(staff_user, django_user_model):
    assert services.nickname_claim(value="Ana", is_staff=False, user_id=None) == "Ana"
    assert services.nickname_claim(value="Ana", is_staff=True, user_id=staff_user.id) == "Ana"
    with pytest.raises(RealtimeError):
        services.nickname_claim(value="ana", is_staff=False, user_id=None)
    # One reserved nickname per staff user: the latest.
    services.nickname_claim(value="Boss", is_staff=True, user_id=staff_user.id)
    assert services.nickname_claim(value="Ana", is_staff=False, user_id=None) == "Ana"
    assert selectors.nickname_reserved_keys() == {"moderadora", "boss"}
    # A user who is no longer staff reserves nothing.
    django_user_model.objects.filter(id=staff_user.id).update(is_staff=False)
    assert selectors.nickname_reserved_keys() == frozenset()
    assert services.nickname_claim(value="Moderadora", is_staff=False, user_id=None) == "Moderadora"


def test_default_nicknames_avoid_reserved_names():
    first = services.nickname_default(seed="s:abc")
    other = services.nickname_default(seed="s:abc", reserved=frozenset({senders.nickname_fold(first)}))
    assert other != first and services.nickname_clean(other) == other


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
