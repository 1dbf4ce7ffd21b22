"""History paging with several rooms writing at once: a page holds only its own room's messages.

The messages of two rooms are interleaved (ids alternate), and the other room has
messages both older and newer than every page boundary, so a selector that forgot
the room filter returns a different page, not just one extra message at the end.
"""

import pytest

from chat import selectors, services

pytestmark = pytest.mark.django_db


def post(room, text):
    message, _ = services.message_post(
        room_id=room.id, room_slug=room.slug, text=text, author="Ana", sender_key="k1"
    )
    return message["id"]


@pytest.fixture
def interleaved(rooms):
    """60 messages, cats and dogs alternating, plus dogs' messages before the first and after the last cat one."""
    cats, dogs = rooms["cats"], rooms["dogs"]
    ids = {"cats": [], "dogs": []}
    ids["dogs"].append(post(dogs, "guau primero"))
    for i in range(30):
        ids["cats"].append(post(cats, f"miau {i}"))
        ids["dogs"].append(post(dogs, f"guau {i}"))
    ids["dogs"].append(post(dogs, "guau último"))
    return rooms, ids


def page_ids(rooms, slug, *, before_id, limit):
    rows = selectors.message_list_before(room_id=rooms[slug].id, room_slug=slug, before_id=before_id, limit=limit)
    assert {m["room"] for m in rows} <= {slug}
    return [m["id"] for m in rows]


def test_a_page_skips_the_other_rooms_interleaved_messages(interleaved):
    rooms, ids = interleaved
    cats = ids["cats"]
    assert page_ids(rooms, "cats", before_id=cats[20], limit=5) == cats[15:20]
    assert page_ids(rooms, "cats", before_id=cats[3], limit=100) == cats[:3]
    assert page_ids(rooms, "cats", before_id=cats[0], limit=100) == []
    # A boundary that is another room's message id pages just the same.
    assert page_ids(rooms, "cats", before_id=ids["dogs"][10], limit=4) == [i for i in cats if i < ids["dogs"][10]][-4:]


def test_paging_back_to_the_start_visits_each_own_message_once(interleaved):
    rooms, ids = interleaved
    for slug in ("cats", "dogs"):
        seen = []
        before = max(ids["cats"] + ids["dogs"]) + 1
        while page := page_ids(rooms, slug, before_id=before, limit=7):
            assert page == sorted(page) and (not seen or page[-1] < seen[0])
            seen = page + seen
            before = page[0]
        assert seen == ids[slug]


def test_the_newest_page_is_the_rooms_own_newest(interleaved):
    rooms, ids = interleaved
    newest = selectors.message_list_newest(room_id=rooms["cats"].id, room_slug="cats", limit=10)
    assert [m["id"] for m in newest] == ids["cats"][-10:]
    assert {m["text"] for m in newest} == {f"miau {i}" for i in range(20, 30)}
    newest_dogs = selectors.message_list_newest(room_id=rooms["dogs"].id, room_slug="dogs", limit=3)
    assert [m["id"] for m in newest_dogs] == ids["dogs"][-3:]
