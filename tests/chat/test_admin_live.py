"""Moderation done in the Django admin reaches connected chat clients.

A superuser drives the admin through Django's test client, with CSRF checks on,
exactly as a browser would (the confirmation page, then its POST); the chat
client is a real Socket.IO connection to the live server.
"""

import asyncio
import re

import pytest
from django.test import Client

from chat.models import Message, Room
from tests.conftest import receive_event

pytestmark = [pytest.mark.django_db(transaction=True)]


def data(ack):
    assert ack["ok"], ack
    return ack["data"]


def admin_client() -> Client:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("moderator", "mod@example.com", "pw-123456789")
    # The live server allows only 127.0.0.1 and localhost (not "testserver").
    client = Client(enforce_csrf_checks=True, HTTP_HOST="localhost")
    client.force_login(user)
    return client


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token in the admin page"
    return match.group(1)


def admin_delete_one(message_id: int) -> None:
    """The admin's own delete view: the confirmation page, then "Yes, I'm sure"."""
    client = admin_client()
    url = f"/admin/chat/message/{message_id}/delete/"
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(url, {"post": "yes", "csrfmiddlewaretoken": csrf_token(page.content.decode())})
    assert response.status_code == 302, response.status_code


def admin_delete_selected(message_ids: list[int]) -> None:
    """The changelist's "Delete selected messages" action, confirmed."""
    client = admin_client()
    changelist = client.get("/admin/chat/message/")
    token = csrf_token(changelist.content.decode())
    form = {"action": "delete_selected", "_selected_action": [str(i) for i in message_ids],
            "csrfmiddlewaretoken": token}
    confirm = client.post("/admin/chat/message/", form)
    assert confirm.status_code == 200 and b"Are you sure" in confirm.content
    done = client.post("/admin/chat/message/", {**form, "post": "yes"})
    assert done.status_code == 302, done.status_code


def admin_clear_history(room_id: int) -> None:
    client = admin_client()
    changelist = client.get("/admin/chat/room/")
    response = client.post("/admin/chat/room/", {
        "action": "clear_history", "_selected_action": [str(room_id)],
        "csrfmiddlewaretoken": csrf_token(changelist.content.decode()),
    })
    assert response.status_code == 302, response.status_code


@pytest.fixture
async def joined(rooms, live_site, sio_client):
    """A chat client in room `cats` that has sent three messages; (client, their ids)."""
    client = await sio_client("/chat")
    data(await client.call("join", {"room": "cats"}))
    ids = []
    for text in ("ratones", "pájaros", "peces"):
        ids.append(data(await client.call("send_message", {"room": "cats", "text": text}))["message"]["id"])
    return client, ids


async def test_deleting_a_message_in_the_admin_reaches_the_client(joined):
    client, ids = joined
    await asyncio.to_thread(admin_delete_one, ids[1])
    assert await receive_event(client, "message_deleted", timeout=5) == {"room": "cats", "ids": [ids[1]]}
    assert not await asyncio.to_thread(Message.objects.filter(id=ids[1]).exists)
    joined_again = data(await client.call("join", {"room": "cats"}))
    assert [m["id"] for m in joined_again["messages"]] == [ids[0], ids[2]]


async def test_the_admins_delete_selected_action_reaches_the_client(joined):
    client, ids = joined
    await asyncio.to_thread(admin_delete_selected, [ids[0], ids[2]])
    event = await receive_event(client, "message_deleted", timeout=5)
    assert event["room"] == "cats" and sorted(event["ids"]) == [ids[0], ids[2]]
    assert [m["id"] for m in data(await client.call("join", {"room": "cats"}))["messages"]] == [ids[1]]


async def test_clearing_a_rooms_history_in_the_admin_reaches_the_client(joined):
    client, ids = joined
    room_id = await asyncio.to_thread(lambda: Room.objects.get(slug="cats").id)
    await asyncio.to_thread(admin_clear_history, room_id)
    assert await receive_event(client, "history_cleared", timeout=5) == {"room": "cats", "up_to_id": ids[-1]}
    assert data(await client.call("join", {"room": "cats"}))["messages"] == []
