"""The chat admin: rooms with counts, moderation that clients are told about."""

import pytest

from chat import services
from chat.models import Message, ModerationEvent, Room

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-123456789")
    client.force_login(user)
    return client


def post(room, text):
    return services.message_post(room_id=room.id, room_slug=room.slug, author="Ana",
                                 sender_key="k", text=text)[0]["id"]


def test_room_changelist_shows_counts(staff_client, rooms):
    post(rooms["cats"], "hola")
    response = staff_client.get("/admin/chat/room/")
    assert response.status_code == 200
    assert "Gatos" in response.content.decode()


def test_message_admin_search_and_filter(staff_client, rooms):
    post(rooms["cats"], "ratones por todas partes")
    post(rooms["dogs"], "pelotas")
    html = staff_client.get("/admin/chat/message/", {"q": "ratones"}).content.decode()
    assert "ratones por todas partes" in html and "pelotas" not in html
    html = staff_client.get("/admin/chat/message/", {"room__id__exact": rooms["dogs"].id}).content.decode()
    assert "pelotas" in html and "ratones" not in html


def test_deleting_in_the_admin_records_a_moderation_event(staff_client, rooms):
    ids = [post(rooms["cats"], f"m {i}") for i in range(3)]
    response = staff_client.post("/admin/chat/message/", {
        "action": "delete_selected", "_selected_action": ids[:2], "post": "yes",
    })
    assert response.status_code == 302
    assert list(Message.objects.values_list("id", flat=True)) == [ids[2]]
    event = ModerationEvent.objects.get()
    assert event.kind == "delete" and sorted(event.message_ids) == ids[:2]
    response = staff_client.post(f"/admin/chat/message/{ids[2]}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Message.objects.exists() and ModerationEvent.objects.count() == 2


def test_clear_history_and_close_actions(staff_client, rooms):
    post(rooms["cats"], "uno")
    post(rooms["cats"], "dos")
    staff_client.post("/admin/chat/room/", {"action": "clear_history", "_selected_action": [rooms["cats"].id]})
    assert not Message.objects.filter(room=rooms["cats"]).exists()
    assert ModerationEvent.objects.get().kind == "clear"
    staff_client.post("/admin/chat/room/", {"action": "close_rooms", "_selected_action": [rooms["dogs"].id]})
    assert Room.objects.get(slug="dogs").is_open is False


def test_non_staff_cannot_moderate(client, rooms, django_user_model):
    user = django_user_model.objects.create_user("visitor", password="pw-123456789")
    client.force_login(user)
    assert client.get("/admin/chat/message/").status_code == 302


def test_staff_nicknames_are_listed_and_can_be_released(staff_client, django_user_model):
    from chat.models import StaffNickname
    from chat.selectors import nickname_reserved_keys

    user = django_user_model.objects.get(username="boss")
    services.staff_nickname_record(user_id=user.id, nickname="La Jefa")
    html = staff_client.get("/admin/chat/staffnickname/").content.decode()
    assert "La Jefa" in html
    assert "la jefa" in nickname_reserved_keys()
    reservation = StaffNickname.objects.get(user=user)
    response = staff_client.post(f"/admin/chat/staffnickname/{reservation.id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert "la jefa" not in nickname_reserved_keys()
