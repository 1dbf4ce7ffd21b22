"""The chat pages."""

import json

import pytest

from chat.models import Room
from chat.views import parse_auto_chat

pytestmark = pytest.mark.django_db


def config(response):
    html = response.content.decode()
    start = html.index('id="chat-config"')
    body = html[html.index(">", start) + 1: html.index("</script>", start)]
    return json.loads(body)


def test_room_list_shows_open_rooms(client, rooms):
    Room.objects.create(slug="closed", name="Cerrada", is_open=False)
    response = client.get("/chat/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Gatos" in html and "Perros" in html and "Cerrada" not in html
    assert 'href="/chat/cats/"' in html
    assert config(response) == {"namespace": "/chat"}


def test_room_page(client, rooms):
    response = client.get("/chat/cats/")
    assert response.status_code == 200
    assert config(response) == {"namespace": "/chat", "room": "cats", "autoChatMs": 4000,
                                "autoChat": False, "maxLength": 500}
    assert "build/chat.js" in response.content.decode()
    assert response.cookies.get("sessionid")  # identity for the socket


def test_unknown_room_is_404(client, rooms):
    assert client.get("/chat/birds/").status_code == 404


@pytest.mark.parametrize("raw, expected", [
    (None, None), ("", None), ("abc", None), ("nan", None), ("inf", None),
    ("5", 1000), ("2500", 2500), ("1e12", 60000), ("-3", 1000),
])
def test_auto_chat_parameter(raw, expected):
    assert parse_auto_chat(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "1e999", "-1", "%00"])
def test_bad_auto_chat_values_never_fail(client, rooms, raw):
    response = client.get("/chat/dogs/", {"auto_chat": raw})
    assert response.status_code == 200


def test_auto_chat_turns_on(client, rooms):
    assert config(client.get("/chat/dogs/?auto_chat=3000"))["autoChat"] is True


def test_html_in_room_fields_is_escaped(client, rooms):
    Room.objects.filter(slug="cats").update(name="<script>alert(1)</script>", description="<b>x</b>")
    html = client.get("/chat/cats/").content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_spanish_page(client, rooms):
    response = client.get("/chat/cats/", headers={"accept-language": "es"})
    assert "Enviar" in response.content.decode()
