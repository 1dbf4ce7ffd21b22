"""The engine without Socket.IO or a database: fake emit and storage, a fake clock."""

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from grid_game import rules
from grid_game.engine import ArenaInfo, ArenaRuntime, Engine, _asdict
from tests.helpers import async_wait_until
from votemap_site.realtime.broadcast import SharedPayload, websocket_text_frame
from votemap_site.realtime.errors import RealtimeError

pytestmark = pytest.mark.timeout(30)


class Fakes:
    def __init__(self, **info) -> None:
        self.info = ArenaInfo(**{"id": 1, "slug": "main", "name": "Main", "width": 20, "height": 10,
                                 "max_players": 32, "coins": 3, "is_open": True, "revision": 1, **info})
        self.emitted: list[tuple[str, dict, dict]] = []
        self.recorded: list[tuple[int, list]] = []
        self.now = 1000.0

    async def emit(self, event, data, **kwargs):
        self.emitted.append((event, data, kwargs))

    async def load_arena(self, slug):
        return self.info if slug == self.info.slug else None

    async def load_revisions(self, slugs):
        return {self.info.slug: self.info}

    async def record_scores(self, arena_id, entries):
        self.recorded.append((arena_id, entries))
        return True

    async def top_scores(self, arena_id):
        return []

    def engine(self, **kwargs) -> Engine:
        return Engine(emit=self.emit, load_arena=self.load_arena, load_revisions=self.load_revisions,
                      record_scores=self.record_scores, top_scores=self.top_scores,
                      hz=kwargs.pop("hz", 50.0), rng_seed="test", clock=lambda: self.now, **kwargs)

    def states(self):
        return [data for event, data, _ in self.emitted if event == "state"]


async def test_moves_apply_in_order_and_ack_tick_orders_them_against_states():
    fakes = Fakes()
    engine = fakes.engine()
    data = await engine.join(sid="s1", seat_key="k1", player_id="p1", slug="main", name="Ana", spectate=False)
    x, y = data["you"]["x"], data["you"]["y"]
    acks = []
    for seq in range(30):
        direction = "right" if x < 19 else "left"
        ack = engine.move(sid="s1", direction=direction, seq=seq)
        x += 1 if direction == "right" else -1
        assert (ack["x"], ack["y"], ack["seq"]) == (x, y, seq)
        acks.append(ack)
        if seq % 7 == 0:  # let a state go out between moves
            sent = len(fakes.states())
            await async_wait_until(lambda: len(fakes.states()) > sent, message="a state after a move")
    await async_wait_until(lambda: any(s["tick"] > acks[-1]["tick"] for s in fakes.states()),
                           message="a state after the last move")
    states = fakes.states()
    ticks = [s["tick"] for s in states]
    assert ticks == sorted(set(ticks)), "ticks strictly increase"
    # Every state with a tick greater than a move's ack tick shows a position at
    # or after that move: the last state shows the last move.
    assert (states[-1]["players"][0]["x"], states[-1]["players"][0]["y"]) == (acks[-1]["x"], acks[-1]["y"])
    for ack in acks:
        later = [s for s in states if s["tick"] > ack["tick"]]
        assert later, "each move is in a later state"
    await engine.stop()


async def test_state_only_when_changed():
    fakes = Fakes()
    engine = fakes.engine()
    await engine.join(sid="s1", seat_key="k1", player_id="p1", slug="main", name=None, spectate=False)
    await async_wait_until(fakes.states, message="the state after the join")
    arena = engine.arenas["main"]
    count, ticks = len(fakes.states()), arena.work_ticks
    await async_wait_until(lambda: arena.work_ticks >= ticks + 10, message="ten more ticks")
    assert len(fakes.states()) == count
    await engine.stop()


async def test_grace_then_seat_removed_and_resume_within_grace():
    fakes = Fakes()
    engine = fakes.engine(grace_seconds=30, idle_seconds=1000)
    await engine.join(sid="s1", seat_key="k1", player_id="p1", slug="main", name="A", spectate=False)
    await engine.join(sid="w", seat_key="kw", player_id="pw", slug="main", name=None, spectate=True)
    await engine.disconnect(sid="s1")
    fakes.now += 10
    data = await engine.join(sid="s2", seat_key="k1", player_id="p1", slug="main", name=None, spectate=False)
    assert data["you"]["id"] == "p1" and data["you"]["name"] == "A"
    await engine.disconnect(sid="s2")
    fakes.now += 31
    # housekeeping (on the fake clock) removes the seat at a coming tick
    await async_wait_until(lambda: fakes.states() and all(p["id"] != "p1" for p in fakes.states()[-1]["players"]),
                           message="the seat removed after the grace period")
    with pytest.raises(RealtimeError) as err:
        engine.move(sid="s2", direction="up", seq=1)
    assert err.value.code == "not_joined"
    await engine.stop()


async def test_full_closed_and_unknown():
    fakes = Fakes(max_players=1)
    engine = fakes.engine()
    await engine.join(sid="s1", seat_key="k1", player_id="p1", slug="main", name=None, spectate=False)
    with pytest.raises(RealtimeError) as err:
        await engine.join(sid="s2", seat_key="k2", player_id="p2", slug="main", name=None, spectate=False)
    assert err.value.code == "closed" and "full" in err.value.message
    with pytest.raises(RealtimeError) as err:
        await engine.join(sid="s2", seat_key="k2", player_id="p2", slug="nope", name=None, spectate=False)
    assert err.value.code == "not_found"
    await engine.stop()


async def test_stop_cancels_loops_and_flushes_scores():
    fakes = Fakes(width=2, height=2, coins=1)
    engine = fakes.engine()
    data = await engine.join(sid="s1", seat_key="k1", player_id="p1", slug="main", name="A", spectate=False)
    coin = data["state"]["coins"][0]
    you = data["you"]
    # Walk onto the coin (2x2 board: at most two moves).
    if you["x"] != coin["x"]:
        engine.move(sid="s1", direction="right" if coin["x"] > you["x"] else "left", seq=1)
    if you["y"] != coin["y"]:
        engine.move(sid="s1", direction="down" if coin["y"] > you["y"] else "up", seq=2)
    ticker = engine.arenas["main"].ticker
    assert ticker.running
    await engine.stop()
    assert not ticker.running
    assert any(("p1", "A", 1) in entries for _, entries in fakes.recorded)


async def test_arena_loaded_during_a_config_poll_is_not_taken_for_deleted():
    fakes = Fakes()
    other = ArenaInfo(id=2, slug="other", name="Other", width=5, height=5, max_players=4, coins=1,
                      is_open=True, revision=1)
    started = asyncio.Event()
    release = asyncio.Event()

    async def load_arena(slug):
        return {"main": fakes.info, "other": other}.get(slug)

    async def slow_revisions(slugs):
        started.set()
        await release.wait()
        return {s: {"main": fakes.info, "other": other}[s] for s in slugs}

    fakes.load_arena = load_arena
    fakes.load_revisions = slow_revisions
    engine = fakes.engine()
    await engine.join(sid="s1", seat_key="k1", player_id="p1", slug="main", name=None, spectate=False)
    poll = asyncio.create_task(engine.poll_config())
    await started.wait()
    await engine.join(sid="s2", seat_key="k2", player_id="p2", slug="other", name=None, spectate=False)
    release.set()
    await poll
    assert engine.arenas["other"].info.is_open
    engine.move(sid="s2", direction="up", seq=1)  # not refused as closed
    await engine.stop()


async def test_anonymous_seats_are_capped_per_arena_and_spectating_still_works():
    fakes = Fakes()
    engine = fakes.engine(anonymous_seats=2)
    for n in (1, 2):
        await engine.join(sid=f"a{n}", seat_key=f"c:a{n}", player_id=f"pa{n}", slug="main", name=None,
                          spectate=False, anonymous=True)
    with pytest.raises(RealtimeError) as err:
        await engine.join(sid="a3", seat_key="c:a3", player_id="pa3", slug="main", name=None,
                          spectate=False, anonymous=True)
    assert err.value.code == "closed" and "spectate" in err.value.message
    assert "a3" not in engine.members and len(engine.arenas["main"].state.players) == 2
    data = await engine.join(sid="a3", seat_key="c:a3", player_id="pa3", slug="main", name=None,
                             spectate=True, anonymous=True)
    assert data["you"] is None and "a3" in engine.arenas["main"].spectators
    # Joining again from a seated anonymous connection resumes its seat (not a new one).
    again = await engine.join(sid="a1", seat_key="c:a1", player_id="pa1", slug="main", name=None,
                              spectate=False, anonymous=True)
    assert again["you"]["id"] == "pa1"
    # A browser session still gets a seat.
    data = await engine.join(sid="b1", seat_key="s:b1", player_id="pb1", slug="main", name=None,
                             spectate=False)
    assert data["you"]["id"] == "pb1"
    await engine.stop()


async def test_zero_anonymous_seats_means_watch_only():
    fakes = Fakes()
    engine = fakes.engine(anonymous_seats=0)
    with pytest.raises(RealtimeError) as err:
        await engine.join(sid="a1", seat_key="c:a1", player_id="pa1", slug="main", name=None,
                          spectate=False, anonymous=True)
    assert err.value.code == "closed"
    with pytest.raises(ValueError):
        fakes.engine(anonymous_seats=-1)
    await engine.stop()


async def test_an_anonymous_seat_is_given_up_when_its_connection_goes():
    fakes = Fakes()
    other = ArenaInfo(id=2, slug="other", name="Other", width=5, height=5, max_players=4, coins=1,
                      is_open=True, revision=1)

    async def load_arena(slug):
        return {"main": fakes.info, "other": other}.get(slug)

    fakes.load_arena = load_arena
    engine = fakes.engine(grace_seconds=30, anonymous_seats=1)
    await engine.join(sid="a1", seat_key="c:a1", player_id="pa1", slug="other", name=None,
                      spectate=False, anonymous=True)
    # Switching arenas keeps the seat in "other" for the grace period (the same
    # connection may come back to it) ...
    await engine.join(sid="a1", seat_key="c:a1", player_id="pa1", slug="main", name=None,
                      spectate=False, anonymous=True)
    assert "c:a1" in engine.arenas["other"].seats
    # ... but once the connection is gone nothing can resume either seat.
    await engine.disconnect(sid="a1", seat_key="c:a1", anonymous=True)
    assert not engine.arenas["main"].seats and not engine.arenas["other"].seats
    assert not engine.arenas["main"].state.players and not engine.arenas["other"].state.players
    assert "a1" not in engine.members
    # The freed anonymous seat is available at once.
    await engine.join(sid="a2", seat_key="c:a2", player_id="pa2", slug="main", name=None,
                      spectate=False, anonymous=True)
    # A session's seat is still kept for the grace period.
    await engine.join(sid="b1", seat_key="s:b1", player_id="pb1", slug="main", name=None, spectate=False)
    await engine.disconnect(sid="b1", seat_key="s:b1", anonymous=False)
    assert "s:b1" in engine.arenas["main"].seats
    await engine.stop()


async def test_a_join_that_outlives_its_connection_registers_nothing():
    fakes = Fakes()
    gone: set[str] = set()
    release = asyncio.Event()

    async def slow_top_scores(arena_id):
        await release.wait()
        return []

    fakes.top_scores = slow_top_scores
    engine = fakes.engine(is_connected=lambda sid: sid not in gone)
    for spectate in (False, True):
        release.clear()
        joining = asyncio.create_task(engine.join(sid="s1", seat_key="k1", player_id="p1", slug="main",
                                                  name=None, spectate=spectate))
        await asyncio.sleep(0.01)
        gone.add("s1")
        await engine.disconnect(sid="s1", seat_key="k1")  # arrives while the join awaits
        release.set()
        with pytest.raises(RealtimeError) as err:
            await joining
        assert err.value.code == "not_joined"
        arena = engine.arenas["main"]
        assert "s1" not in engine.members and not arena.seats and not arena.spectators
        assert not arena.state.players
        gone.clear()
    await engine.stop()


async def test_a_deleted_arena_is_dropped_once_empty():
    fakes = Fakes()
    engine = fakes.engine()
    await engine.join(sid="w", seat_key="kw", player_id="pw", slug="main", name=None, spectate=True)

    async def deleted(slugs):
        return {}

    async def gone(slug):
        return None

    engine.load_revisions = deleted
    engine.load_arena = gone
    await engine.poll_config()
    arena = engine.arenas["main"]
    assert arena.deleted and not arena.info.is_open  # still there: someone watches it
    await engine.leave(sid="w")
    deadline = asyncio.get_running_loop().time() + 5
    while "main" in engine.arenas:  # the loop ends with nobody left and drops it
        assert asyncio.get_running_loop().time() < deadline, "deleted arena kept"
        await asyncio.sleep(0.02)
    with pytest.raises(RealtimeError) as err:
        await engine.join(sid="w", seat_key="kw", player_id="pw", slug="main", name=None, spectate=True)
    assert err.value.code == "not_found"
    await engine.stop()


async def test_scores_kept_for_a_retry_are_bounded():
    from grid_game import engine as engine_module

    fakes = Fakes()

    async def failing(arena_id, entries):
        raise RuntimeError("database down")

    fakes.record_scores = failing
    engine = fakes.engine()
    await engine.join(sid="s1", seat_key="k1", player_id="p1", slug="main", name=None, spectate=False)
    arena = engine.arenas["main"]
    limit = engine_module.MAX_PENDING_SCORES
    arena.pending_scores = {f"p{i}": ("X", i) for i in range(limit + 500)}
    await engine._flush_scores(arena)
    assert len(arena.pending_scores) == limit
    assert min(score for _, score in arena.pending_scores.values()) == 500  # the best are kept
    arena.pending_scores = {}
    await engine.stop()


async def test_the_loop_of_an_empty_arena_ends_and_the_next_join_starts_it_again():
    fakes = Fakes()
    engine = fakes.engine()
    await engine.join(sid="s1", seat_key="k1", player_id="p1", slug="main", name="A", spectate=False)
    arena = engine.arenas["main"]
    assert arena.ticking
    await engine.leave(sid="s1")
    await async_wait_until(lambda: not arena.ticking, message="the empty arena's loop ending")
    last = fakes.states()[-1]["tick"]
    await engine.join(sid="s2", seat_key="k2", player_id="p2", slug="main", name="B", spectate=False)
    assert arena.ticking
    await async_wait_until(lambda: fakes.states()[-1]["tick"] > last, message="a state from the restarted loop")
    ticks = [state["tick"] for state in fakes.states()]
    assert ticks == sorted(set(ticks))  # strictly increasing across the restart
    await engine.stop()


# ----- an arena moved to this process (grid_game/cluster.py) ---------------
def _saved(fakes, *, tick_reserved):
    from grid_game import checkpoint as checkpoints

    engine = fakes.engine()
    arena = engine.install(fakes.info, checkpoint=None, anonymous_grace=2)
    for i, name in enumerate(["Ana", "Bo"]):
        engine._seat(arena, sid=f"old{i}", seat_key=f"k{i}", player_id=f"p{i}", name=name, anonymous=i == 1)
    state = arena.state
    return state, checkpoints.Checkpoint(arena="main", owner="other", tick_reserved=tick_reserved,
                                         state=state, anonymous=frozenset({"p1"}), arena_id=fakes.info.id)


async def test_install_restores_the_board_and_starts_above_the_reservation():
    import time

    fakes = Fakes()
    far = int(time.time() * 50) + 10_000
    state, saved = _saved(fakes, tick_reserved=far)
    engine = fakes.engine(create_runtimes=False, grace_seconds=30)
    arena = engine.install(fakes.info, checkpoint=saved, anonymous_grace=2)
    assert arena.state == state
    assert arena.tick > far
    # Nothing is broadcast until the cluster stored a checkpoint and set the ceiling.
    assert arena.tick_ceiling == arena.tick
    # The session's player comes back through another connection: same player.
    data = await engine.join(sid="new0", seat_key="k0", player_id="p0", slug="main", name=None,
                             spectate=False)
    assert data["you"] == state.player("p0").as_dict()
    assert data["state"]["tick"] > far
    # An anonymous seat nobody comes back to goes after `anonymous_grace`; a
    # session's seat is kept for the whole grace period.
    fakes.now += 3
    await async_wait_until(lambda: not arena.state.has_player("p1"), message="the anonymous seat given up")
    assert arena.state.has_player("p0")
    await engine.stop()


async def test_a_state_over_the_ceiling_waits_for_it_to_be_raised():
    fakes = Fakes()
    engine = fakes.engine(create_runtimes=False)
    arena = engine.install(fakes.info, checkpoint=None, anonymous_grace=2)
    await engine.join(sid="s1", seat_key="k1", player_id="p1", slug="main", name=None, spectate=False)
    engine.move(sid="s1", direction="left", seq=1)
    engine.move(sid="s1", direction="up", seq=2)
    await asyncio.sleep(0.2)  # ten ticks of the loop: none may broadcast
    assert fakes.states() == [] and arena.dirty
    arena.tick_ceiling = arena.following_tick() + 100
    await async_wait_until(fakes.states, message="a state once the ceiling is raised")
    assert all(s["tick"] <= arena.tick_ceiling for s in fakes.states())
    await engine.stop()


async def test_an_engine_of_a_cluster_never_loads_an_arena_by_itself():
    fakes = Fakes()
    engine = fakes.engine(create_runtimes=False)
    with pytest.raises(RealtimeError) as refused:
        await engine.join(sid="s1", seat_key="k1", player_id="p1", slug="main", name=None, spectate=False)
    assert refused.value.code == "internal" and refused.value.retry_after
    assert engine.arenas == {}


async def test_a_checkpoint_of_another_arena_with_the_same_slug_gives_a_fresh_board():
    import dataclasses
    import time

    fakes = Fakes()
    far = int(time.time() * 50) + 10_000
    _, saved = _saved(fakes, tick_reserved=far)
    engine = fakes.engine(create_runtimes=False)
    arena = engine.install(fakes.info, checkpoint=dataclasses.replace(saved, arena_id=99), anonymous_grace=2)
    assert arena.state.players == () and arena.seats == {}
    assert arena.tick > far
    await engine.stop()


# ----- the tick's state as a shared payload ----------------------------------

@settings(max_examples=80, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["join", "move", "leave", "rename", "tick", "watch", "close"]),
                              st.integers(min_value=0, max_value=5),
                              st.sampled_from(sorted(rules.DIRECTIONS)),
                              st.text(min_size=1, max_size=20)),
                    max_size=40),
       slug=st.from_regex(r"[-a-zA-Z0-9_]{1,64}", fullmatch=True))
def test_the_shared_state_is_byte_for_byte_what_python_socketio_encodes(ops, slug):
    """However players join, move, collect coins, leave and are renamed between
    ticks (spectators come, the arena closes), the broadcast's encoding
    (cached per player) is the plain payload's, and so is its frame."""
    info = ArenaInfo(id=1, slug=slug, name="Main", width=4, height=3, max_players=8, coins=2,
                     is_open=True, revision=1)
    arena = ArenaRuntime(info, rng=random.Random(7), hz=20.0)
    for op, who, direction, name in ops:
        player_id = f"p{who}"
        present = arena.state.has_player(player_id)
        if op == "watch":
            arena.spectators.add(name)
        elif op == "close":
            arena.info = ArenaInfo(**{**_asdict(arena.info), "is_open": not arena.info.is_open})
        elif op == "join" and not present and len(arena.state.players) < 6:
            arena.state = rules.join(arena.state, player_id=player_id, name=name, rng=arena.rng)
        elif op == "move" and present:
            arena.state = rules.move(arena.state, player_id=player_id, direction=direction, rng=arena.rng)
        elif op == "leave" and present:
            arena.state = rules.leave(arena.state, player_id=player_id)
        elif op == "rename" and present:
            arena.state = rules.rename(arena.state, player_id=player_id, name=name)
        elif op == "tick":
            arena.next_tick()
            shared = arena.state_broadcast()
            plain = arena.state_payload()
            packet = sio_packet.Packet(sio_packet.EVENT, namespace="/grid-game", data=["state", plain])
            expected = packet.encode()
            assert shared.encoded(sio_packet.Packet, "/grid-game", "state") == expected
            eio_pkt = eio_packet.Packet(eio_packet.MESSAGE, expected)
            assert shared.frame(eio_pkt) == websocket_text_frame(eio_pkt.encode())
            assert shared.plain() == plain


async def test_the_engine_emits_shared_states_only_when_asked():
    fakes = Fakes()
    engine = fakes.engine(shared_states=True)
    await engine.join(sid="s1", seat_key="k1", player_id="p1", slug="main", name="Ana", spectate=False)
    await async_wait_until(fakes.states, message="a state after the join")
    state = fakes.states()[0]
    assert isinstance(state, SharedPayload)
    assert state.plain()["players"][0]["name"] == "Ana"
    await engine.stop()
    fakes = Fakes()
    engine = fakes.engine()
    await engine.join(sid="s1", seat_key="k1", player_id="p1", slug="main", name="Ana", spectate=False)
    await async_wait_until(fakes.states, message="a state after the join")
    assert isinstance(fakes.states()[0], dict)
    await engine.stop()
