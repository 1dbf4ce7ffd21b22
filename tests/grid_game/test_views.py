"""The pages /game/ and /game/<arena>/ through Django's test client."""

import json
import re

import pytest

from grid_game.models import Arena
from grid_game.views import AUTO_MOVE_MAX_MS, AUTO_MOVE_MIN_MS, parse_auto_move

pytestmark = pytest.mark.django_db


@pytest.fixture
def main_arena(db):
    arena, _ = Arena.objects.get_or_create(slug="main", defaults={"name": "Main arena"})
    return arena


def config_of(response) -> dict:
    match = re.search(rb'<script id="game-config" type="application/json">(.*?)</script>', response.content)
    assert match, "no json_script config"
    return json.loads(match.group(1))


def test_data_migration_created_main_20_by_10(main_arena):
    arena = Arena.objects.get(slug="main")
    assert (arena.width, arena.height, arena.is_open) == (20, 10, True)


def test_index_lists_arenas(client, main_arena):
    Arena.objects.create(slug="other", name="Other <b>arena</b>", is_open=False)
    response = client.get("/game/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'href="/game/main/"' in body and 'data-arena="other"' in body
    assert "Other &lt;b&gt;arena&lt;/b&gt;" in body  # escaped, never HTML
    assert 'data-role="online"' in body


def test_arena_page_draws_an_accessible_grid(client, main_arena):
    response = client.get("/game/main/")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('role="grid"') == 1
    assert body.count('role="row"') == 10
    assert body.count('role="gridcell"') == 200
    assert "build/grid_game.js" in body and "css/grid_game.css" in body
    assert "<script>" not in body.replace('<script id="game-config" type="application/json">', "")
    config = config_of(response)
    assert config["arena"] == {"slug": "main", "name": "Main arena", "width": 20, "height": 10, "open": True}
    assert config["auto_move"] is None and config["namespace"] == "/grid-game"


def test_unknown_arena_is_404(client, main_arena):
    assert client.get("/game/nope/").status_code == 404


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("500", 500), ("1", AUTO_MOVE_MIN_MS), ("99999999", AUTO_MOVE_MAX_MS), ("0", None), ("-5", None),
        ("abc", None), ("", None), ("1e400", None), ("nan", None), ("250.7", 250), ("9" * 500, AUTO_MOVE_MAX_MS),
    ],
)
def test_auto_move_is_clamped_in_the_view(client, main_arena, raw, expected):
    response = client.get("/game/main/", {"auto_move": raw})
    assert response.status_code == 200
    assert config_of(response)["auto_move"] == expected


def test_parse_auto_move_never_raises():
    for raw in (None, "inf", "-inf", "  42 ", "0x10", "1_000"):
        value = parse_auto_move(raw)
        assert value is None or AUTO_MOVE_MIN_MS <= value <= AUTO_MOVE_MAX_MS


def test_spanish_page(client, main_arena):
    response = client.get("/game/main/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200
    assert "Puntuaciones" in response.content.decode()


def test_admin_pages_and_saving_bumps_the_revision(admin_client, main_arena):
    assert admin_client.get("/admin/grid_game/arena/").status_code == 200
    assert admin_client.get("/admin/grid_game/highscore/").status_code == 200
    url = f"/admin/grid_game/arena/{main_arena.pk}/change/"
    assert admin_client.get(url).status_code == 200
    before = Arena.objects.get(pk=main_arena.pk).revision
    response = admin_client.post(url, {
        "slug": "main", "name": "Main arena", "width": 20, "height": 10, "max_players": 32, "coins": 3,
    })  # is_open unchecked: closing the arena
    assert response.status_code == 302, response.content[:2000]
    arena = Arena.objects.get(pk=main_arena.pk)
    assert arena.is_open is False and arena.revision == before + 1


def test_admin_refuses_more_players_and_coins_than_cells(admin_client, main_arena):
    url = f"/admin/grid_game/arena/{main_arena.pk}/change/"
    response = admin_client.post(url, {
        "slug": "main", "name": "Main arena", "width": 4, "height": 2, "max_players": 8, "coins": 1,
        "is_open": "on",
    })
    assert response.status_code == 200  # the form again, with the error
    assert Arena.objects.get(pk=main_arena.pk).width == 20


def test_admin_refuses_more_players_than_symbols(admin_client, main_arena):
    from grid_game.rules import SYMBOLS

    url = f"/admin/grid_game/arena/{main_arena.pk}/change/"
    response = admin_client.post(url, {
        "slug": "main", "name": "Main arena", "width": 100, "height": 100, "max_players": len(SYMBOLS) + 1,
        "coins": 3, "is_open": "on",
    })
    assert response.status_code == 200
    assert Arena.objects.get(pk=main_arena.pk).max_players == 32
