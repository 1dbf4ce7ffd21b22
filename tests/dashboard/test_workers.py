"""Two server processes sharing PostgreSQL and a message queue (Redis, or RabbitMQ
without Redis): one map, one version sequence."""

import asyncio
import os
import subprocess
import sys
import time
import uuid
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
