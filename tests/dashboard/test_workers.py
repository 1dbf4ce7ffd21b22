"""Two server processes sharing PostgreSQL and a message queue (Redis, or RabbitMQ
without Redis): one map, one version sequence."""

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import pytest
import socketio

from tests.conftest import ROOT, migrate_database, start_server_process

NS = "/map-dashboard"
pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def fresh_postgres(postgres_url):
    """A database of its own (created here, dropped afterwards); its URL."""
    import psycopg

    name = f"votemap_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(postgres_url)
    yield urlunsplit(parts._replace(path="/" + name))
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


class Recorder:
    """A python-socketio client that keeps every event of the namespace, in order."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, dict]] = []
        self.client.on("*", self._on_any, namespace=NS)

    async def _on_any(self, event, data=None):
        self.events.append((event, data))

    def of(self, event):
        return [data for name, data in self.events if name == event]

    def viewers_shown(self):
        """Every viewer count this client was given, by a snapshot or a `viewers` event."""
        return [data["viewers"] if name == "snapshot" else data["count"]
                for name, data in self.events if name in ("snapshot", "viewers")]

    async def connect(self, url):
        await self.client.connect(url, namespaces=[NS], transports=["websocket"], wait_timeout=10)

    async def vote(self, code, direction="up"):
        ack = await self.client.call("vote", {"province": code, "direction": direction,
                                              "vote_id": str(uuid.uuid4())}, namespace=NS, timeout=10)
        assert ack["ok"], ack
        return ack["data"]

    async def wait_for(self, predicate, timeout=15.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"condition not met; events: {self.events[-5:]}"
            await asyncio.sleep(0.02)


def manage(env, *args):
    full_env = {**os.environ, "DJANGO_DEBUG": "False", "DJANGO_SECRET_KEY": "test-secret-" + "x" * 40,
                "DJANGO_ENV_FILE": "", **env}
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, check=True,
                   timeout=120)


async def test_two_workers_share_votes_versions_and_admin_changes(fresh_postgres, message_queue, tmp_path):
    env = {"DATABASE_URL": fresh_postgres, **message_queue, "DASHBOARD_VOTE_RATE": "5000",
           "DASHBOARD_VOTE_BURST": "5000"}
    await asyncio.to_thread(migrate_database, env)
    worker_a = await asyncio.to_thread(start_server_process, env=env, log_path=tmp_path / "a.log")
    worker_b = await asyncio.to_thread(start_server_process, env=env, log_path=tmp_path / "b.log")
    alice, bob = Recorder(), Recorder()
    try:
        await alice.connect(worker_a.url)
        await bob.connect(worker_b.url)
        await alice.wait_for(lambda: alice.of("snapshot"))
        await bob.wait_for(lambda: bob.of("snapshot"))
        start = alice.of("snapshot")[0]["version"]
        assert bob.of("snapshot")[0]["version"] == start
        # Viewers are counted over both workers.
        for rec in (alice, bob):
            await rec.wait_for(lambda rec=rec: 2 in rec.viewers_shown())

        # A vote through worker A reaches the client of worker B, and back.
        ack = await alice.vote("28")
        assert ack == {"province": "28", "votes": 1, "version": start + 1}
        await bob.wait_for(lambda: {"version": start + 1, "counts": {"28": 1}} in bob.of("votes"))
        ack = await bob.vote("28")
        assert ack == {"province": "28", "votes": 2, "version": start + 2}
        await alice.wait_for(lambda: {"version": start + 2, "counts": {"28": 2}} in alice.of("votes"))

        # Both workers voting at once: one gap-free version sequence, the same on both sides.
        acks = await asyncio.gather(*[alice.vote("08") for _ in range(30)], *[bob.vote("46") for _ in range(30)])
        last = max(a["version"] for a in acks)
        for rec in (alice, bob):
            await rec.wait_for(lambda rec=rec: any(d["version"] == last for d in rec.of("votes")))
        assert alice.of("votes") == bob.of("votes")
        versions = [d["version"] for d in alice.of("votes")]
        assert versions == list(range(start + 1, last + 1))
        merged = {}
        for delta in alice.of("votes"):
            merged.update(delta["counts"])
        assert merged == {"28": 2, "08": 30, "46": 30}

        # A retry through the other worker is not counted again; the floor holds on PostgreSQL too.
        retried = {"province": "33", "direction": "up", "vote_id": str(uuid.uuid4())}
        first = await alice.client.call("vote", retried, namespace=NS, timeout=10)
        again = await bob.client.call("vote", retried, namespace=NS, timeout=10)
        assert first["data"]["votes"] == again["data"]["votes"] == 1
        assert [(await bob.vote("33", "down"))["votes"] for _ in range(3)] == [0, 0, 0]
        last = (await alice.vote("33"))["version"]
        await bob.wait_for(lambda: any(d["version"] == last for d in bob.of("votes")))
        assert [d["counts"] for d in bob.of("votes")[-3:]] == [{"33": 1}, {"33": 0}, {"33": 1}]

        # An admin change made by another process reaches the clients of both workers.
        await asyncio.to_thread(manage, env, "map_voting", "close")
        for rec in (alice, bob):
            await rec.wait_for(lambda rec=rec: any(s["open"] is False for s in rec.of("snapshot")))
        closed = await alice.client.call("vote", {"province": "28", "direction": "up"}, namespace=NS, timeout=10)
        assert closed["error"]["code"] == "closed"
        latest = [s for s in bob.of("snapshot") if s["open"] is False][0]
        assert {p["code"]: p["votes"] for p in latest["provinces"]}["08"] == 30
        assert {p["code"]: p["votes"] for p in latest["provinces"]}["33"] == 1
        assert latest["version"] == last
    finally:
        for rec in (alice, bob):
            try:
                await asyncio.wait_for(rec.client.disconnect(), 3)
            except Exception:
                pass
        await asyncio.to_thread(worker_a.stop)
        await asyncio.to_thread(worker_b.stop)


RACE_CODES = ["28", "08", "46", "41", "29", "03"]


async def test_concurrent_batches_on_two_workers_reach_every_viewer_in_version_order(fresh_postgres, redis_url,
                                                                                      tmp_path):
    """Both workers commit a batch every few milliseconds, at the same moments.

    Every viewer (two per worker) must see each version exactly once, in order,
    with no gap: a worker that published without the commit-order lock lets a
    later version overtake an earlier one in the pub/sub channel, and one that
    read the version without locking the state row hands the same version to
    two batches. Each vote goes to a province chosen so that both workers often
    write disjoint provinces at once (only the state row orders them then).

    The load is sized so that a missing commit-order lock shows up in (nearly)
    every run: with 16 votes in flight per viewer each worker's event loop is
    busy enough that the later commit often publishes first. Smaller loads
    (4 in flight, a few hundred votes) caught it in fewer than half the runs.
    """
    env = {"DATABASE_URL": fresh_postgres, "REDIS_URL": redis_url, "DASHBOARD_VOTE_RATE": "100000",
           "DASHBOARD_VOTE_BURST": "100000", "DASHBOARD_TICK_MS": "5"}
    await asyncio.to_thread(migrate_database, env)
    workers = [await asyncio.to_thread(start_server_process, env=env, log_path=tmp_path / f"{n}.log")
               for n in ("a", "b")]
    viewers = [Recorder() for _ in range(4)]
    worker_of = [0, 1, 0, 1]
    try:
        for viewer, w in zip(viewers, worker_of, strict=True):
            await viewer.connect(workers[w].url)
        for viewer in viewers:
            await viewer.wait_for(lambda viewer=viewer: viewer.of("snapshot"))
        start = viewers[0].of("snapshot")[0]["version"]
        assert all(v.of("snapshot")[0]["version"] == start for v in viewers)

        # Each viewer keeps 16 votes in flight all the time, so both workers commit a batch
        # almost every tick, at the same moments, for a couple of hundred ticks.
        per_viewer, in_flight = 500, 16
        sent: Counter = Counter()
        acked_by: dict[int, set[int]] = {}  # version -> the workers whose acks carried it

        async def stream(n: int) -> None:
            viewer, w = viewers[n], worker_of[n]
            # Worker A's viewers vote on the first half of the codes, worker B's on the second,
            # except every fifth vote, which crosses over (same provinces on both workers).
            half = RACE_CODES[:3] if w == 0 else RACE_CODES[3:]
            codes = [RACE_CODES[(n + i) % len(RACE_CODES)] if i % 5 == 0 else half[(n + i) % 3]
                     for i in range(per_viewer)]
            sent.update(codes)
            gate = asyncio.Semaphore(in_flight)

            async def one(code: str) -> None:
                async with gate:
                    ack = await viewer.vote(code)
                acked_by.setdefault(ack["version"], set()).add(w)

            await asyncio.gather(*[one(code) for code in codes])

        await asyncio.gather(*[stream(n) for n in range(len(viewers))])

        last = max(acked_by)
        for viewer in viewers:
            await viewer.wait_for(lambda viewer=viewer: any(d["version"] >= last for d in viewer.of("votes")))

        # Each version belongs to one batch, committed by one worker.
        shared = {version: ws for version, ws in acked_by.items() if len(ws) > 1}
        assert not shared, f"versions acked by both workers: {sorted(shared)[:10]}"
        for n, viewer in enumerate(viewers):
            versions = [d["version"] for d in viewer.of("votes")]
            out_of_order = [(a, b) for a, b in zip(versions, versions[1:], strict=False) if b != a + 1]
            assert not out_of_order, f"viewer {n}: versions not one by one: {out_of_order[:10]}"
            assert versions == list(range(start + 1, last + 1)), f"viewer {n}"
        assert all(v.of("votes") == viewers[0].of("votes") for v in viewers[1:])
        # The deltas, applied in order, end at the totals that were sent; so does the database.
        merged = {}
        for delta in viewers[0].of("votes"):
            merged.update(delta["counts"])
        assert merged == dict(sent)
        snapshot = await viewers[1].client.call("get_snapshot", {}, namespace=NS, timeout=10)
        assert snapshot["ok"], snapshot
        assert snapshot["data"]["version"] == last
        assert {p["code"]: p["votes"] for p in snapshot["data"]["provinces"] if p["votes"]} == dict(sent)
        assert sum(sent.values()) == per_viewer * len(viewers)
    finally:
        for viewer in viewers:
            try:
                await asyncio.wait_for(viewer.client.disconnect(), 3)
            except Exception:
                pass
        for worker in workers:
            await asyncio.to_thread(worker.stop)
