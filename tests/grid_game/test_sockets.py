"""`/grid-game` through a live server: every event and error code of the protocol."""

import asyncio
import json
import time

import pytest
import socketio

from grid_game.models import Arena, HighScore
from tests.conftest import receive_event

NS = "/grid-game"
OPPOSITE = {"up": "down", "down": "up", "left": "right", "right": "left"}
STEP = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@pytest.fixture
def arenas(db):
    Arena.objects.update_or_create(
        slug="main", defaults={"name": "Main arena", "width": 20, "height": 10, "max_players": 32, "coins": 3}
    )
    Arena.objects.create(slug="tiny", name="Tiny", width=4, height=2, max_players=2, coins=1)
    Arena.objects.create(slug="shut", name="Shut", width=5, height=5, is_open=False)


@pytest.fixture
def fast_game(settings):
    settings.GAME_SEAT_GRACE_SECONDS = 1.0
    settings.GAME_IDLE_SECONDS = 2.0
    settings.GAME_CONFIG_POLL_SECONDS = 0.2


def ok(ack):
    assert ack["ok"] is True, ack
    return ack["data"]


def err(ack, code):
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == code, ack
    assert ack["error"]["message"]
    return ack["error"]


def free_direction(x, y, width=20, height=10):
    """A direction that is not into a wall."""
    for direction, (dx, dy) in STEP.items():
        if 0 <= x + dx < width and 0 <= y + dy < height:
            return direction
    raise AssertionError("boxed in")


async def wait_state(client, predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        state = await receive_event(client, "state", max(0.05, deadline - time.monotonic()))
        if predicate(state):
            return state


def find(state, player_id):
    return next((p for p in state["players"] if p["id"] == player_id), None)


async def test_join_returns_you_arena_and_state(arenas, sio_client):
    c = await sio_client(NS)
    data = ok(await c.call("join_game", {"arena": "main", "name": "Ana"}))
    you = data["you"]
    assert set(you) >= {"id", "symbol", "name", "x", "y", "score"}
    assert you["name"] == "Ana" and you["symbol"] == "B" and you["score"] == 0
    assert 0 <= you["x"] < 20 and 0 <= you["y"] < 10
    assert data["arena"]["slug"] == "main"
    assert (data["arena"]["width"], data["arena"]["height"]) == (20, 10)
    state = data["state"]
    assert state["arena"] == "main" and state["tick"] >= 0
    assert find(state, you["id"]) == you
    assert len(state["coins"]) == 3 and state["players_online"] == 1
    assert data["high_scores"] == []  # nobody has scored in this fresh arena yet
    # The default arena is main.
    c2 = await sio_client(NS)
    assert ok(await c2.call("join_game", {}))["arena"]["slug"] == "main"


async def test_two_players_see_each_other_move(arenas, sio_client):
    a = await sio_client(NS)
    b = await sio_client(NS)
    you_a = ok(await a.call("join_game", {"name": "A"}))["you"]
    you_b = ok(await b.call("join_game", {"name": "B"}))["you"]
    assert you_a["id"] != you_b["id"] and you_a["symbol"] != you_b["symbol"]
    await wait_state(a, lambda s: find(s, you_b["id"]) is not None)
    direction = free_direction(you_a["x"], you_a["y"])
    moved = ok(await a.call("move", {"direction": direction, "seq": 1}))
    dx, dy = STEP[direction]
    assert (moved["x"], moved["y"], moved["seq"]) == (you_a["x"] + dx, you_a["y"] + dy, 1)
    seen = await wait_state(b, lambda s: (find(s, you_a["id"]) or {}).get("x") == moved["x"]
                            and find(s, you_a["id"])["y"] == moved["y"])
    assert seen["tick"] > moved["tick"]
    # And the other way round.
    direction = free_direction(you_b["x"], you_b["y"])
    moved_b = ok(await b.call("move", {"direction": direction, "seq": 7}))
    await wait_state(a, lambda s: (find(s, you_b["id"]) or {}).get("x") == moved_b["x"]
                     and find(s, you_b["id"])["y"] == moved_b["y"])


async def test_ticks_strictly_increase_and_state_only_on_change(arenas, sio_client):
    c = await sio_client(NS)
    you = ok(await c.call("join_game", {}))["you"]
    ticks = []
    x, y = you["x"], you["y"]
    for seq in range(6):
        direction = free_direction(x, y)
        moved = ok(await c.call("move", {"direction": direction, "seq": seq}))
        x, y = moved["x"], moved["y"]
        ticks.append((await receive_event(c, "state"))["tick"])
    assert all(b > a for a, b in zip(ticks, ticks[1:]))
    # Nothing changes: no state for a few ticks.
    with pytest.raises((TimeoutError, socketio.exceptions.TimeoutError)):
        await receive_event(c, "state", timeout=0.5)


async def test_wall_keeps_position(arenas, sio_client):
    c = await sio_client(NS)
    you = ok(await c.call("join_game", {"arena": "tiny"}))["you"]
    x, y = you["x"], you["y"]
    for seq in range(6):  # walk into the left wall (the coin may be on the way)
        moved = ok(await c.call("move", {"direction": "left", "seq": seq}))
        assert moved["x"] == max(0, x - seq - 1) and moved["y"] == y
    assert moved["x"] == 0


async def test_move_before_join_and_as_spectator_is_not_joined(arenas, sio_client):
    c = await sio_client(NS)
    err(await c.call("move", {"direction": "up", "seq": 1}), "not_joined")
    err(await c.call("leave_game", {}), "not_joined")
    data = ok(await c.call("join_game", {"spectate": True}))
    assert data["you"] is None and data["state"]["arena"] == "main"
    err(await c.call("move", {"direction": "up", "seq": 2}), "not_joined")


async def test_unknown_arena_is_not_found(arenas, sio_client):
    c = await sio_client(NS)
    err(await c.call("join_game", {"arena": "nope"}), "not_found")
    err(await c.call("move", {"direction": "up", "seq": 1}), "not_joined")


@pytest.mark.parametrize(
    "event,payload",
    [
        ("join_game", {"arena": "main", "extra": 1}),
        ("join_game", {"arena": "bad slug!"}),
        ("join_game", {"name": ""}),
        ("join_game", {"name": "x" * 17}),
        ("join_game", {"spectate": "yes"}),
        ("move", {"direction": "north", "seq": 1}),
        ("move", {"direction": "up"}),
        ("move", {"direction": "up", "seq": "1"}),
        ("move", {"direction": "up", "seq": -1}),
        ("leave_game", {"x": 1}),
        ("list_arenas", {"x": 1}),
    ],
)
async def test_invalid_payloads(arenas, sio_client, event, payload):
    c = await sio_client(NS)
    if event == "move":
        you = ok(await c.call("join_game", {}))["you"]
    err(await c.call(event, payload), "invalid")
    if event == "move":
        state = ok(await c.call("join_game", {}))["state"]
        assert (find(state, you["id"])["x"], find(state, you["id"])["y"]) == (you["x"], you["y"])


async def test_payload_not_an_object_is_invalid(arenas, sio_client):
    c = await sio_client(NS)
    err(await c.call("move", ["up"]), "invalid")
    err(await c.call("join_game", "main"), "invalid")


async def test_unknown_event(arenas, sio_client):
    c = await sio_client(NS)
    err(await c.call("teleport", {"x": 1}), "unknown_event")


async def test_move_rate_limited(arenas, sio_client):
    c = await sio_client(NS)
    ok(await c.call("join_game", {"arena": "main"}))
    acks = await asyncio.gather(*[c.call("move", {"direction": "left", "seq": i}) for i in range(40)])
    accepted = [a for a in acks if a["ok"]]
    limited = [a for a in acks if not a["ok"]]
    # The burst (GAME_MOVE_BURST, 20), plus what refills while 40 moves arrive at once.
    assert 20 <= len(accepted) <= 20 + 3, len(accepted)
    assert all(a["error"]["code"] == "rate_limited" and a["error"]["retry_after"] > 0 for a in limited)


async def test_closed_arena_refuses_players_but_allows_spectators(arenas, sio_client):
    c = await sio_client(NS)
    err(await c.call("join_game", {"arena": "shut"}), "closed")
    data = ok(await c.call("join_game", {"arena": "shut", "spectate": True}))
    assert data["you"] is None and data["arena"]["open"] is False


async def test_full_arena_is_refused_with_a_clear_message(arenas, sio_client):
    for _ in range(2):
        ok(await (await sio_client(NS)).call("join_game", {"arena": "tiny"}))
    third = await sio_client(NS)
    error = err(await third.call("join_game", {"arena": "tiny"}), "closed")
    assert "full" in error["message"]


async def test_closing_in_the_admin_tells_the_players(arenas, fast_game, sio_client):
    from django.db.models import F

    c = await sio_client(NS)
    you = ok(await c.call("join_game", {}))["you"]
    await receive_event(c, "state")
    await asyncio.to_thread(
        lambda: Arena.objects.filter(slug="main").update(is_open=False, revision=F("revision") + 1)
    )
    state = await wait_state(c, lambda s: s["open"] is False)
    assert find(state, you["id"]) is not None  # still shown, but cannot move
    err(await c.call("move", {"direction": free_direction(you["x"], you["y"]), "seq": 1}), "closed")
    late = await sio_client(NS)
    err(await late.call("join_game", {}), "closed")


async def test_leave_game_removes_the_player(arenas, sio_client):
    a = await sio_client(NS)
    b = await sio_client(NS)
    you_a = ok(await a.call("join_game", {}))["you"]
    ok(await b.call("join_game", {"spectate": True}))
    assert ok(await a.call("leave_game", {})) == {}
    await wait_state(b, lambda s: find(s, you_a["id"]) is None)
    err(await a.call("move", {"direction": "up", "seq": 1}), "not_joined")


async def test_coin_scored_and_respawned_and_high_score_stored(arenas, sio_client):
    c = await sio_client(NS)
    data = ok(await c.call("join_game", {"arena": "tiny", "name": "Coiner"}))
    you, coin = data["you"], data["state"]["coins"][0]
    x, y = you["x"], you["y"]
    seq = 0
    path = ["right" if coin["x"] > x else "left"] * abs(coin["x"] - x)
    path += ["down" if coin["y"] > y else "up"] * abs(coin["y"] - y)
    for direction in path:
        seq += 1
        moved = ok(await c.call("move", {"direction": direction, "seq": seq}))
    assert (moved["x"], moved["y"]) == (coin["x"], coin["y"]) and moved["score"] == 1
    state = await wait_state(c, lambda s: find(s, you["id"])["score"] == 1)
    assert len(state["coins"]) == 1 and state["coins"][0] != coin
    assert (state["coins"][0]["x"], state["coins"][0]["y"]) != (moved["x"], moved["y"])
    scores = await receive_event(c, "high_scores", timeout=5)
    assert scores["arena"] == "tiny" and scores["scores"][0]["name"] == "Coiner"
    assert scores["scores"][0]["score"] == 1 and scores["scores"][0]["at"].endswith("Z")
    row = await asyncio.to_thread(lambda: HighScore.objects.get(arena__slug="tiny"))
    assert row.score == 1 and row.player_id == you["id"]


async def test_reconnect_with_the_same_session_resumes_the_seat(arenas, sio_client, make_session):
    cookies = await asyncio.to_thread(make_session)
    first = await sio_client(NS, cookies=cookies)
    watcher = await sio_client(NS)
    you = ok(await first.call("join_game", {"name": "Resumer"}))["you"]
    ok(await watcher.call("join_game", {"spectate": True}))
    direction = free_direction(you["x"], you["y"])
    moved = ok(await first.call("move", {"direction": direction, "seq": 1}))
    await first.disconnect()
    state = await wait_state(watcher, lambda s: s["players_online"] == 0)
    assert find(state, you["id"]) is not None  # the seat is kept during the grace period
    again = await sio_client(NS, cookies=cookies)
    data = ok(await again.call("join_game", {}))
    assert data["you"]["id"] == you["id"] and data["you"]["symbol"] == you["symbol"]
    assert (data["you"]["x"], data["you"]["y"]) == (moved["x"], moved["y"])
    assert data["you"]["name"] == "Resumer"
    # Another session gets another player.
    other = await sio_client(NS, cookies=await asyncio.to_thread(make_session))
    assert ok(await other.call("join_game", {}))["you"]["id"] != you["id"]


async def test_seat_expires_after_the_grace_period(arenas, fast_game, sio_client, make_session):
    a = await sio_client(NS, cookies=await asyncio.to_thread(make_session))
    watcher = await sio_client(NS)
    you = ok(await a.call("join_game", {}))["you"]
    ok(await watcher.call("join_game", {"spectate": True}))
    await a.disconnect()
    await wait_state(watcher, lambda s: find(s, you["id"]) is None, timeout=8)


async def test_idle_player_is_removed_and_told(arenas, fast_game, sio_client):
    a = await sio_client(NS)
    you = ok(await a.call("join_game", {}))["you"]
    lost = await receive_event(a, "seat_lost", timeout=8)
    assert lost == {"arena": "main", "reason": "idle"}
    state = ok(await a.call("join_game", {"spectate": True}))["state"]
    assert find(state, you["id"]) is None
    err(await a.call("move", {"direction": "up", "seq": 1}), "not_joined")


async def test_list_arenas_counts_players_online(arenas, sio_client):
    c = await sio_client(NS)
    ok(await c.call("join_game", {"arena": "tiny"}))
    arenas_list = ok(await c.call("list_arenas", {}))["arenas"]
    by_slug = {a["slug"]: a for a in arenas_list}
    assert by_slug["tiny"]["players_online"] == 1 and by_slug["main"]["players_online"] == 0
    assert by_slug["shut"]["open"] is False


async def test_no_socket_id_in_any_payload(arenas, sio_client, make_session):
    cookies = await asyncio.to_thread(make_session)
    a = await sio_client(NS, cookies=cookies)
    b = await sio_client(NS)
    seen = []
    seen.append(await a.call("join_game", {"arena": "tiny"}))
    seen.append(await b.call("join_game", {"arena": "tiny"}))
    seen.append(await b.call("list_arenas", {}))
    you = seen[0]["data"]["you"]
    for seq, direction in enumerate(["left", "right", "up", "down"]):
        seen.append(await a.call("move", {"direction": direction, "seq": seq}))
    seen.append(await receive_event(b, "state"))
    seen.append(await receive_event(a, "state"))
    text = json.dumps(seen)
    for client in (a, b):
        sids = {client.sid, client.client.get_sid(NS), client.client.eio.sid}
        for sid in filter(None, sids):
            assert sid not in text
    assert cookies["sessionid"] not in text
    assert len(you["id"]) == 16


async def test_arena_list_page_shows_players_online(arenas, live_site, sio_client):
    import re
    import urllib.request

    c = await sio_client(NS)
    ok(await c.call("join_game", {"arena": "tiny"}))

    def fetch():
        with urllib.request.urlopen(live_site.url + "/game/", timeout=10) as resp:
            return resp.read().decode()

    body = await asyncio.to_thread(fetch)
    card = re.search(r'data-arena="tiny".*?data-role="online">(\d+)<', body, re.S)
    assert card and card.group(1) == "1"


async def test_switching_arenas_leaves_the_previous_one(arenas, sio_client):
    a = await sio_client(NS)
    watcher = await sio_client(NS)
    you = ok(await a.call("join_game", {"arena": "tiny"}))["you"]
    ok(await watcher.call("join_game", {"arena": "tiny", "spectate": True}))
    err(await a.call("join_game", {"arena": "shut"}), "closed")  # refused, but tiny was left
    ok(await a.call("join_game", {"arena": "main"}))
    state = await wait_state(watcher, lambda s: s["players_online"] == 0)
    assert find(state, you["id"]) is not None  # seat kept for the grace period
    # a no longer receives tiny's states: make tiny change (another player joins), wait
    # until the watcher has seen that state, then everything a got must be main's.
    b = await sio_client(NS)
    b_you = ok(await b.call("join_game", {"arena": "tiny"}))["you"]
    await wait_state(watcher, lambda s: find(s, b_you["id"]) is not None)
    arenas_seen = set()
    while True:
        try:
            event = await a.receive(timeout=0.3)
        except socketio.exceptions.TimeoutError:
            break
        if event[0] == "state":
            arenas_seen.add(event[1]["arena"])
    assert "tiny" not in arenas_seen


@pytest.fixture
def short_grace(settings):
    # Read when the live server builds the engine: a fixture, before sio_client.
    settings.GAME_SEAT_GRACE_SECONDS = 0.5


async def test_rejoin_after_the_grace_period_gets_a_new_seat(arenas, short_grace, sio_client, make_session):
    cookies = await asyncio.to_thread(make_session)
    first = await sio_client(NS, cookies=cookies)
    watcher = await sio_client(NS)
    data = ok(await first.call("join_game", {"arena": "tiny", "name": "Comeback"}))
    ok(await watcher.call("join_game", {"arena": "tiny", "spectate": True}))
    you, coin = data["you"], data["state"]["coins"][0]
    path = ["right" if coin["x"] > you["x"] else "left"] * abs(coin["x"] - you["x"])
    path += ["down" if coin["y"] > you["y"] else "up"] * abs(coin["y"] - you["y"])
    for seq, direction in enumerate(path):
        moved = ok(await first.call("move", {"direction": direction, "seq": seq}))
    assert moved["score"] == 1  # something a resumed seat would keep
    await first.disconnect()
    await wait_state(watcher, lambda s: s["players_online"] == 0 and find(s, you["id"]) is not None)
    # The grace period runs out: the seat is given up ...
    await wait_state(watcher, lambda s: find(s, you["id"]) is None, timeout=10)
    # ... and the same session coming back gets a fresh one.
    again = await sio_client(NS, cookies=cookies)
    fresh = ok(await again.call("join_game", {"arena": "tiny"}))["you"]
    assert fresh["id"] == you["id"]  # the public id belongs to the session, not to the seat
    assert fresh["score"] == 0
    state = await wait_state(watcher, lambda s: find(s, you["id"]) is not None)
    assert find(state, you["id"])["score"] == 0 and state["players_online"] == 1


@pytest.fixture
def three_anonymous_seats(settings):
    settings.GAME_ANONYMOUS_SEATS = 3


async def test_cookie_less_connections_hold_at_most_the_anonymous_seats(
    arenas, three_anonymous_seats, sio_client, make_session
):
    scripts = [await sio_client(NS) for _ in range(3)]
    seated = [ok(await c.call("join_game", {}))["you"] for c in scripts]
    assert all(you is not None for you in seated)
    late = await sio_client(NS)
    error = err(await late.call("join_game", {}), "closed")
    assert "browser" in error["message"] and "spectate" in error["message"]
    # It may always watch, and what it watches does not include a seat of its own.
    watching = ok(await late.call("join_game", {"spectate": True}))
    assert watching["you"] is None and len(watching["state"]["players"]) == 3
    # The cap is per arena: another arena still has anonymous seats.
    assert ok(await late.call("join_game", {"arena": "tiny"}))["you"] is not None
    ok(await late.call("join_game", {"spectate": True}))
    # A browser (a Django session) still joins the crowded arena.
    browser = await sio_client(NS, cookies=await asyncio.to_thread(make_session))
    player = ok(await browser.call("join_game", {}))["you"]
    assert player is not None and player["id"] not in {you["id"] for you in seated}
    # A cookie-less seat cannot be resumed, so it is given up when its connection goes ...
    await scripts[0].disconnect()
    await wait_state(late, lambda s: find(s, seated[0]["id"]) is None)
    # ... and the next cookie-less connection gets it.
    assert ok(await late.call("join_game", {}))["you"] is not None
    err(await (await sio_client(NS)).call("join_game", {}), "closed")


@pytest.fixture
def quick_config_poll(settings):
    settings.GAME_CONFIG_POLL_SECONDS = 0.2  # idle and grace stay long: logging in takes a while


async def test_closing_the_arena_in_the_django_admin_reaches_connected_players(
    arenas, quick_config_poll, sio_client, make_session
):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    player = await sio_client(NS, cookies=await asyncio.to_thread(make_session))
    you = ok(await player.call("join_game", {}))["you"]
    await receive_event(player, "state")

    def close_in_the_admin():
        get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-for-tests-only")
        client = Client(HTTP_HOST="localhost")  # a host the live site allows
        assert client.login(username="boss", password="pw-for-tests-only")
        arena = Arena.objects.get(slug="main")
        response = client.post(reverse("admin:grid_game_arena_change", args=[arena.pk]), {
            "slug": arena.slug, "name": arena.name, "width": arena.width, "height": arena.height,
            "max_players": arena.max_players, "coins": arena.coins,  # "is_open" unticked
            "_save": "Save",
        })
        assert response.status_code == 302, response.content[:2000]
        arena.refresh_from_db()
        assert arena.is_open is False

    await asyncio.to_thread(close_in_the_admin)
    state = await wait_state(player, lambda s: s["open"] is False)
    assert find(state, you["id"]) is not None
    direction = free_direction(you["x"], you["y"])
    error = err(await player.call("move", {"direction": direction, "seq": 1}), "closed")
    assert "closed" in error["message"]
    late = await sio_client(NS, cookies=await asyncio.to_thread(make_session))
    err(await late.call("join_game", {}), "closed")
    assert ok(await late.call("join_game", {"spectate": True}))["arena"]["open"] is False
