"""The grid game on two worker processes (PostgreSQL + Redis, or + RabbitMQ without
Redis): one authority per arena wherever its players are connected, and a
takeover when the owner dies (SIGKILL) or stops (SIGTERM).

The owner of `main` is read from its lease (Redis key or the PostgreSQL table):
a process id is "host:pid:random", so it names the worker. Its checkpoint is
read from the same store to know when the positions to compare were stored.
"""

import asyncio
import json
import os
import signal
import time
import urllib.request
import uuid

import pytest
import socketio

from grid_game import checkpoint as checkpoints
from tests.conftest import start_server_process

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(180)]

NAMESPACE = "/grid-game"
LEASE = "game-arena:main"


class Store:
    """Reads the lease and checkpoint of `main` where the workers keep them."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def _redis(self):
        import redis

        return redis.Redis.from_url(self.env["REDIS_URL"])

    def owner(self) -> str | None:
        if "REDIS_URL" in self.env:
            value = self._redis().get(self.env["REDIS_KEY_PREFIX"] + "lease:" + LEASE)
            return value.decode() if value else None
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as conn:
            row = conn.execute("SELECT owner FROM realtime_lease WHERE name = %s AND expires_at >= now()"
                               " AND owner <> ''", [LEASE]).fetchone()
        return row[0] if row else None

    def checkpoint(self) -> checkpoints.Checkpoint | None:
        if "REDIS_URL" in self.env:
            data = self._redis().get(self.env["REDIS_KEY_PREFIX"] + "lease-data:" + LEASE)
        else:
            import psycopg

            with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as conn:
                row = conn.execute("SELECT data FROM realtime_lease WHERE name = %s", [LEASE]).fetchone()
            data = bytes(row[0]) if row and row[0] is not None else None
        return checkpoints.decode(data) if data else None


class Player:
    """One anonymous game client that records every `state` it receives."""

    def __init__(self, worker, name: str) -> None:
        self.worker = worker
        self.name = name
        self.client = socketio.AsyncClient(reconnection=False)
        # Ticks of the `state` events, in arrival order, and of the join's snapshot.
        self.ticks: list[int] = []
        self.join_tick: int | None = None
        self.last: dict | None = None
        self.id: str | None = None
        self.client.on("state", self._on_state, namespace=NAMESPACE)

    async def _on_state(self, data: dict) -> None:
        self.ticks.append(data["tick"])
        self.last = data

    async def join(self) -> dict:
        await self.client.connect(self.worker.url, namespaces=[NAMESPACE], transports=["websocket"],
                                  wait_timeout=10)
        ack = await self.call("join_game", {"arena": "main", "name": self.name})
        assert ack["ok"], ack
        self.id = ack["data"]["you"]["id"]
        self.join_tick = ack["data"]["state"]["tick"]
        if self.last is None:
            self.last = ack["data"]["state"]
        return ack["data"]

    async def call(self, event: str, data: dict) -> dict:
        return await self.client.call(event, data, namespace=NAMESPACE, timeout=10)

    def players(self) -> dict[str, tuple[int, int, int]]:
        assert self.last is not None
        return {p["id"]: (p["x"], p["y"], p["score"]) for p in self.last["players"]}

    def assert_ticks_increase(self) -> None:
        # The join's snapshot first (its ack may be read after a state that
        # followed it: the client library runs handlers as packets arrive).
        ticks = [self.join_tick, *self.ticks]
        assert all(a < b for a, b in zip(ticks, ticks[1:], strict=False)), \
            f"{self.name}: ticks not strictly increasing: {ticks}"


async def until(predicate, *, timeout: float = 20.0, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} did not hold within {timeout}s (last: {value!r})")
        await asyncio.sleep(0.05)


@pytest.fixture
def cluster(fresh_postgres_database, message_queue, tmp_path):
    """A factory of two workers sharing one database and queue, and their lease store."""
    started = []

    def start(**settings: str):
        tag = uuid.uuid4().hex[:8]
        env = {"DATABASE_URL": fresh_postgres_database, **message_queue, "SOCKETIO_TRANSPORTS": "websocket",
               "PRESENCE_HEARTBEAT_SECONDS": "1", "GAME_ANONYMOUS_SEATS": "16",
               "GAME_LEASE_SECONDS": "3", "GAME_PEER_TIMEOUT_SECONDS": "3", "GAME_CHECKPOINT_SECONDS": "0.5",
               # this test's own keys and exchanges: no lease or checkpoint of another test
               "REDIS_KEY_PREFIX": f"vmgame{tag}:", "SOCKETIO_REDIS_CHANNEL": f"votemap-game-{tag}",
               **settings}
        workers = [start_server_process(env=env, log_path=tmp_path / f"worker{i}.log") for i in range(2)]
        started.extend(workers)
        return workers, Store(env)

    yield start
    for worker in started:
        worker.stop()


def worker_of(workers, owner: str | None):
    assert owner is not None, "nobody holds the arena's lease"
    pid = int(owner.split(":")[1])
    (worker,) = [w for w in workers if w.proc.pid == pid]
    return worker


async def join_eight(workers) -> list[Player]:
    a, b = workers
    players = [Player(a if i % 2 == 0 else b, f"P{i}") for i in range(8)]
    for player in players:
        await player.join()
    ids = {p.id for p in players}
    for player in players:
        await until(lambda p=player: set(p.players()) == ids, message=f"{player.name} sees all eight")
    return players


async def move_and_see(mover: Player, watcher: Player) -> tuple[int, int, int]:
    x, _, _ = mover.players()[mover.id]
    ack = await mover.call("move", {"direction": "left" if x > 0 else "right", "seq": 1})
    assert ack["ok"], ack
    seen = (ack["data"]["x"], ack["data"]["y"], ack["data"]["score"])
    await until(lambda: watcher.players().get(mover.id) == seen,
                message=f"{watcher.name} sees {mover.name}'s move")
    return seen


async def moves_cross_processes(players: list[Player], owner) -> tuple[list[Player], list[Player]]:
    """The players split by process (4 on the arena's owner, 4 elsewhere), after
    checking that a move made on the other process is applied by the owner and
    seen on the owner's clients, that a move made on the owner is seen
    elsewhere, and that every player's ticks increased strictly."""
    on_owner = [p for p in players if p.worker is owner]
    elsewhere = [p for p in players if p.worker is not owner]
    assert len(on_owner) == len(elsewhere) == 4
    await move_and_see(elsewhere[0], on_owner[0])
    await move_and_see(on_owner[1], elsewhere[1])
    await move_and_see(elsewhere[2], elsewhere[3])
    for player in players:
        player.assert_ticks_increase()
    return on_owner, elsewhere


async def close(players: list[Player]) -> None:
    for player in players:
        if player.client.connected:
            try:
                await asyncio.wait_for(player.client.disconnect(), 5)
            except Exception:
                pass


async def test_players_on_two_processes_share_one_arena(cluster) -> None:
    workers, store = cluster()
    players = await join_eight(workers)
    try:
        owner = worker_of(workers, store.owner())
        for worker in workers:  # /healthz says which process holds the arena
            with urllib.request.urlopen(worker.url + "/healthz", timeout=5) as resp:
                game = json.load(resp)["realtime"]["game"]
            assert ("main" in game["arenas_owned"]) == (worker is owner), game
            assert game["process"].split(":")[1] == str(worker.proc.pid)
        on_owner, elsewhere = await moves_cross_processes(players, owner)
        # The arena list counts the players of both processes once each.
        for player in (on_owner[0], elsewhere[0]):
            ack = await player.call("list_arenas", {})
            (main,) = [a for a in ack["data"]["arenas"] if a["slug"] == "main"]
            assert main["players_online"] == 8, main
        # Rate limits apply where the client is connected, before anything is forwarded.
        acks = await asyncio.gather(*(elsewhere[0].call("move", {"direction": "up", "seq": 100 + i})
                                      for i in range(40)))
        assert {a["error"]["code"] for a in acks if not a["ok"]} == {"rate_limited"}
    finally:
        await close(players)


async def _takeover(cluster, *, stop: str, **settings: str) -> None:
    workers, store = cluster(**settings)
    players = await join_eight(workers)
    try:
        owner = worker_of(workers, store.owner())
        survivors = [p for p in players if p.worker is not owner]
        gone = [p for p in players if p.worker is owner]
        await move_and_see(survivors[0], survivors[1])
        await move_and_see(gone[0], survivors[2])
        # Wait until a checkpoint holds the positions every survivor now sees.
        before = survivors[0].players()
        survivor_ids = {p.id for p in survivors}
        expected = {pid: before[pid] for pid in survivor_ids}

        def stored():
            saved = store.checkpoint()
            return saved is not None and {p.id: (p.x, p.y, p.score) for p in saved.state.players
                                          if p.id in survivor_ids} == expected
        await until(stored, message="a checkpoint with the survivors' positions")
        owner.proc.send_signal(signal.SIGKILL if stop == "kill" else signal.SIGTERM)
        owner.proc.wait(30)
        # The survivors' own process takes the arena over ...
        await until(lambda: store.owner() is not None
                    and worker_of(workers, store.owner()) is survivors[0].worker,
                    timeout=25, message="the survivors' process holds the arena")
        # ... a move there is applied by the new owner (the old one has exited)
        # and seen by the others, who stayed connected; everyone else keeps the
        # seat, position and score of the checkpoint, and the stopped process's
        # players leave the state.
        mover = survivors[3]
        seen = await move_and_see(mover, survivors[0])
        expected[mover.id] = seen
        for player in survivors:
            assert player.client.connected
            await until(lambda p=player: p.players() == expected, timeout=25,
                        message=f"{player.name} sees the survivors as they were, and only them")
        for player in survivors:
            player.assert_ticks_increase()
    finally:
        await close(players)


async def test_killed_owner_is_taken_over(cluster) -> None:
    await _takeover(cluster, stop="kill")


async def test_stopped_owner_hands_over_without_waiting_for_the_lease(cluster) -> None:
    # A lease of 90 s: a handover within the test's wait can only come from the
    # release on the graceful stop, never from the lease running out.
    await _takeover(cluster, stop="term", GAME_LEASE_SECONDS="90")


def test_owner_process_id_names_the_pid() -> None:
    from grid_game.cluster import process_id

    assert int(process_id().split(":")[1]) == os.getpid()


async def test_players_of_a_killed_process_leave_the_owners_arena(cluster) -> None:
    # Sessions' seats are kept for the grace period on a disconnect: with a long
    # one, only the owner's check of the silent process can end its players'
    # connections, and anonymous seats go with their connection.
    workers, store = cluster(GAME_SEAT_GRACE_SECONDS="600")
    players = await join_eight(workers)
    try:
        owner = worker_of(workers, store.owner())
        (other,) = [w for w in workers if w is not owner]
        stay = [p for p in players if p.worker is owner]
        other.kill()
        stay_ids = {p.id for p in stay}
        for player in stay:
            await until(lambda p=player: set(p.players()) == stay_ids and p.last["players_online"] == 4,
                        message=f"{player.name} no longer sees the killed process's players")
        assert worker_of(workers, store.owner()) is owner
        await move_and_see(stay[0], stay[1])
        for player in stay:
            player.assert_ticks_increase()
    finally:
        await close(players)
