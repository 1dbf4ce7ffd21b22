import importlib

import pytest


def _create_rooms():
    from chat.models import Room

    data = importlib.import_module("chat.migrations.0002_initial_rooms").ROOMS
    for room in data:
        Room.objects.update_or_create(
            slug=room["slug"],
            defaults={"name": room["name"], "description": room["description"],
                      "sample_sentences": "\n".join(room["sentences"]), "is_open": True},
        )
    return {room.slug: room for room in Room.objects.all()}


@pytest.fixture
def rooms(db):
    """The rooms of the data migration (a transactional flush removes them)."""
    return _create_rooms()
