"""Browser test: a player presses ArrowRight and a second page sees the move;
a phone-sized page fits the board and moves with a swipe."""

import pytest

from grid_game.models import Arena
from tests.conftest import run_browser_script
from tests.helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture(params=["shared", "own"], ids=["socket.io", "game-socket.io"])
def game_site(request, settings):
    """The live site with the game on the shared Socket.IO path, and on its own."""
    if request.param == "own":
        settings.GAME_SOCKETIO_PATH = "game-socket.io"
        settings.SOCKETIO_NAMESPACE_PATHS = {"/grid-game": "game-socket.io"}
    return request.getfixturevalue("live_site")


def test_arrow_key_move_is_seen_by_a_second_page(browser_available, game_site):
    live_site = game_site
    Arena.objects.update_or_create(
        slug="main", defaults={"name": "Main arena", "width": 20, "height": 10, "max_players": 32, "coins": 3}
    )
    result = run_browser_script("grid_game", base_url=live_site.url)
    assert result["cells"] == 200 and result["rows"] == 10 and result["columns"] == 20
    assert result["youA"]["id"] != result["youB"]["id"]
    assert result["cellOnB"]["hasPlayer"] is True
    assert result["badge"] == "connected"
    # The pad's down button and the W key each moved the player, as the
    # server's state shows, and together they bring it back to its row.
    assert result["confirmed"] == {"pad": True, "w": True}
    assert result["after"] == {"x": result["expectedX"], "y": result["youA"]["y"]}
    assert result["phoneFits"] is True and result["swiped"] is True
    assert result["errors"] == []


def test_closing_the_arena_shows_a_notice(browser_available, live_site):
    import threading

    from django.db.models import F

    Arena.objects.update_or_create(
        slug="main", defaults={"name": "Main arena", "width": 20, "height": 10, "max_players": 32, "coins": 3}
    )
    result: dict = {}
    runner = threading.Thread(
        target=lambda: result.update(run_browser_script("grid_game_closed", base_url=live_site.url))
    )
    runner.start()
    # Close the arena once the page has joined (what the admin's save does);
    # the live server runs in this process, so its engine can be asked.
    namespace = live_site.realtime.namespace("/grid-game")

    def joined() -> bool:
        arena = namespace.engine.arenas.get("main")
        return arena is not None and arena.players_online() > 0

    wait_until(lambda: joined() or not runner.is_alive(), timeout=30, message="the page joined the arena")
    assert joined(), f"the browser script ended before joining: {result}"
    Arena.objects.filter(slug="main").update(is_open=False, revision=F("revision") + 1)
    runner.join(60)
    assert result["noticeVisible"] is True and "closed" in result["notice"]
    assert result["joinHidden"] is True
    assert result["errors"] == []
