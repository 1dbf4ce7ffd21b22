"""ArenaCluster (grid_game/cluster.py) in one event loop: two "processes" with their
own engine, an in-memory bus and an in-memory lease store. What the two-process
tests (test_cluster.py) check end to end, here with every message visible."""

import asyncio
import json
import time

import pytest

from grid_game.cluster import ArenaCluster, lease_name
from grid_game.engine import ArenaInfo, Engine
from tests.helpers import async_wait_until
from votemap_site.realtime.bus import ALL, Bus
from votemap_site.realtime.errors import RealtimeError

pytestmark = pytest.mark.timeout(30)

INFO = ArenaInfo(id=1, slug="main", name="Main", width=20, height=10, max_players=32, coins=3, is_open=True,
                 revision=1)


class Network:
    """Inboxes of every process; a message is delivered on a later loop turn, in order."""

    def __init__(self) -> None:
        self.inboxes: dict[str, object] = {}
        self.sent: list[tuple[str, str, dict]] = []


class MemoryTransport:
    def __init__(self, network: Network) -> None:
        self.network = network
        self.id = ""

    async def start(self, process_id, deliver) -> None:
        self.id = process_id
        self.network.inboxes[process_id] = deliver

    async def publish(self, to, body) -> None:
        self.network.sent.append((self.id, to, json.loads(body)))
        loop = asyncio.get_running_loop()
        targets = list(self.network.inboxes.values()) if to == ALL else [self.network.inboxes.get(to)]
        for deliver in targets:
            if deliver is not None:
                loop.call_soon(deliver, body)

    async def stop(self) -> None:
        self.network.inboxes.pop(self.id, None)


class MemoryLeases:
    def __init__(self) -> None:
        self.leases: dict[str, tuple[str, float]] = {}
        self.data: dict[str, bytes] = {}

    def _current(self, name):
        held = self.leases.get(name)
        return held[0] if held and held[1] > time.monotonic() else None

    async def claim(self, name, *, owner, ttl):
        current = self._current(name)
        if current in (None, owner):
            self.leases[name] = (owner, time.monotonic() + ttl)
            return owner
        return current

    async def renew(self, names, *, owner, ttl):
        held = set()
        for name in names:
            if self._current(name) in (None, owner):  # as the Redis script: expired and untaken is ours again
                self.leases[name] = (owner, time.monotonic() + ttl)
                held.add(name)
        return held

    async def release(self, names, *, owner):
        for name in names:
            if self._current(name) == owner:
                del self.leases[name]

    async def owner(self, name):
        return self._current(name)

    async def save(self, name, data, *, owner):
        if self._current(name) != owner:
            return False
        self.data[name] = data
        return True

    async def load(self, name):
        return self.data.get(name)

    async def close(self):
        pass


class Process:
    def __init__(self, name: str, network: Network, leases: MemoryLeases, **settings) -> None:
        self.emitted: list[tuple[str, dict, str | None, str | None]] = []
        self.engine = Engine(emit=self._emit_engine, load_arena=self._load, load_revisions=self._revisions,
                             record_scores=self._record, top_scores=self._top, hz=50.0, rng_seed="t",
                             is_connected=lambda sid: True, create_runtimes=False)
        self.cluster = ArenaCluster(
            engine=self.engine, leases=leases, bus=Bus(MemoryTransport(network), process_id=name),
            load_arena=self._load, emit_local=self._emit_local,
            **{"lease_seconds": 1.0, "checkpoint_seconds": 0.2, "peer_timeout": 0.6, "forward_timeout": 0.5,
               **settings})

    async def _emit_engine(self, event, data, *, room=None, to=None):
        await self.cluster.emit(event, data, room=room, to=to)

    async def _emit_local(self, event, data, *, room=None, to=None):
        self.emitted.append((event, data, room, to))

    async def _load(self, slug):
        return INFO if slug == "main" else None

    async def _revisions(self, slugs):
        return {"main": INFO}

    async def _record(self, arena_id, entries):
        return False

    async def _top(self, arena_id):
        return []

    def states(self) -> list[dict]:
        return [data for event, data, _, _ in self.emitted if event == "state"]

    async def join(self, sid: str, **kwargs) -> dict:
        return await self.cluster.join(sid=sid, seat_key="k-" + sid, player_id="p-" + sid, slug="main",
                                       name=sid, spectate=False, anonymous=kwargs.get("anonymous", False))


@pytest.fixture
async def pair():
    network, leases = Network(), MemoryLeases()
    a, b = Process("A", network, leases), Process("B", network, leases)
    await a.cluster.start()
    await b.cluster.start()
    yield a, b, network, leases
    for process in (a, b):
        try:
            await process.cluster.stop()
        except Exception:
            pass


def ops(network: Network, op: str) -> list[tuple[str, str, dict]]:
    return [sent for sent in network.sent if sent[2].get("op") == op]


async def test_forwarded_moves_are_applied_by_the_owner_and_local_ones_never_touch_the_bus(pair):
    a, b, network, leases = pair
    await a.join("a1")  # A takes the arena
    assert leases._current(lease_name("main")) == "A" and a.cluster.owned == {"main"}
    data = await b.join("b1")
    assert {p["id"] for p in data["state"]["players"]} == {"p-a1", "p-b1"}
    assert b.engine.arenas == {} and "b1" in a.engine.members
    before = len(network.sent)
    ack = await a.cluster.move(sid="a1", direction="up", seq=1)
    assert not [sent for sent in network.sent[before:] if sent[2].get("op") == "move"]
    ack = await b.cluster.move(sid="b1", direction="left", seq=2)
    assert ops(network, "move") and ack["seq"] == 2
    where = (ack["x"], ack["y"])
    # B's clients get the owner's states (sent by A on the bus), with the move.
    await async_wait_until(lambda: any({(p["x"], p["y"]) for p in s["players"] if p["id"] == "p-b1"} == {where}
                                       for s in b.states()), message="B emits the owner's state with the move")
    ticks = [s["tick"] for s in b.states()]
    assert ticks == sorted(set(ticks))
    # Refusals come back as the owner's error code.
    with pytest.raises(RealtimeError) as refused:
        await b.cluster.move(sid="nobody", direction="up", seq=3)
    assert refused.value.code == "not_joined"


async def test_a_connection_whose_disconnect_was_lost_is_dropped_by_the_heartbeat(pair):
    a, b, network, leases = pair
    await a.join("a1")
    await b.join("b1", anonymous=True)
    await b.join("b2", anonymous=True)
    assert {"b1", "b2"} <= set(a.cluster.remote)
    del b.cluster.forwarded["b2"]  # B forgot it and its disconnect never reached A
    await async_wait_until(lambda: "b2" not in a.engine.members, message="the owner drops b2")
    arena = a.engine.arenas["main"]
    assert not arena.state.has_player("p-b2")  # an anonymous seat goes with its connection
    assert "b1" in a.engine.members and arena.state.has_player("p-b1")


async def test_a_silent_process_loses_its_players_and_a_dead_owner_is_taken_over(pair):
    a, b, network, leases = pair
    await a.join("a1", anonymous=True)
    await b.join("b1", anonymous=True)
    await b.cluster.move(sid="b1", direction="up", seq=1)
    arena = a.engine.arenas["main"]
    await async_wait_until(lambda: a.cluster._saved.get("main") is arena.state, message="a checkpoint")
    position = arena.state.player("p-b1")
    reserved = arena.tick_ceiling
    # A "crashes": its beat and bus stop, nothing is released.
    await a.cluster._ticker.stop()
    for ticker in [r.ticker for r in a.engine.arenas.values() if r.ticker]:
        await ticker.stop()
    await a.cluster.bus.stop()
    # B takes the arena over once the lease expired, from the checkpoint.
    await async_wait_until(lambda: b.cluster.owned == {"main"}, message="B holds the arena")
    taken = b.engine.arenas["main"]
    assert taken.state.player("p-b1") == position
    assert "b1" in b.engine.members
    # A's own player (anonymous, nobody re-attaches it) leaves the state, and
    # the new owner's ticks start above the old owner's reservation.
    await async_wait_until(lambda: b.states() and b.states()[-1]["tick"] > reserved
                           and {p["id"] for p in b.states()[-1]["players"]} == {"p-b1"},
                           message="the new owner's state without a1")
    ticks = [s["tick"] for s in b.states()]
    assert ticks == sorted(set(ticks))
    ack = await b.cluster.move(sid="b1", direction="down", seq=2)
    assert ack["seq"] == 2 and "main" in b.engine.arenas


async def test_a_graceful_stop_releases_the_lease_and_says_so():
    # A lease of a minute: B can only get the arena within the wait from the release.
    network, leases = Network(), MemoryLeases()
    a, b = (Process(name, network, leases, lease_seconds=60.0) for name in "AB")
    await a.cluster.start()
    await b.cluster.start()
    try:
        await a.join("a1")
        await b.join("b1")
        await b.cluster.move(sid="b1", direction="up", seq=1)
        position = a.engine.arenas["main"].state.player("p-b1")
        await a.cluster.stop()
        assert ops(network, "released")
        await async_wait_until(lambda: b.cluster.owned == {"main"}, message="B holds the arena")
        assert b.engine.arenas["main"].state.player("p-b1") == position  # the last checkpoint
    finally:
        await b.cluster.stop()
