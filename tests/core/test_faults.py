"""Faults: Redis, RabbitMQ or PostgreSQL unreachable under a running site, and a
worker killed with SIGKILL (docs/deployment.md, "Faults").

Every test that breaks a service breaks one of its own, so the machine's
services are left alone:
- Redis: a `redis-server` of the test's own on a free port, stopped (refused
  connections) or paused with SIGSTOP (a black hole: connections are accepted
  by the kernel and never answered);
- RabbitMQ: the machine's broker behind a TCP proxy in the test process, which
  refuses (closes its port and resets every connection) or black-holes (stops
  forwarding in both directions, and holds new connections);
- PostgreSQL: a cluster of the test's own (initdb, pg_ctl as user postgres),
  stopped and started again under a running server.

Clients behave like the map page: each vote has a `vote_id`, a `votes` delta
whose version jumps is repaired with `get_snapshot`.
"""

import asyncio
import secrets
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
import socketio

from tests.conftest import free_port, migrate_database, need, start_server_process
from tests.helpers import async_wait_until

NS = "/map-dashboard"
CODES = ["28", "08", "41", "46", "35", "15"]
pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(300)]

# How long each outage lasts: "several seconds", well past the breakers'
# threshold and their reset timeout, so every state is gone through.
OUTAGE_SECONDS = 6.0


# ----- the services the tests break -------------------------------------------
class OwnRedis:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                import redis

                redis.Redis(port=self.port, socket_timeout=0.5).ping()
                return
            except Exception:
                assert time.monotonic() < deadline, "own redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)

    # the faults
    async def begin(self, kind: str) -> None:
        if kind == "refused":
            await asyncio.to_thread(self.stop)
        else:
            self.proc.send_signal(signal.SIGSTOP)

    async def end(self, kind: str) -> None:
        if kind == "refused":
            await asyncio.to_thread(self.start)  # empty: presence must be re-published
        else:
            self.proc.send_signal(signal.SIGCONT)


class TcpProxy:
    """127.0.0.1:port -> target, which can refuse or black-hole on demand."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.server: asyncio.AbstractServer | None = None
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        await self.flowing.wait()  # a black hole holds new connections too
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.writers.add(up_writer)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(src, dst))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                await self.flowing.wait()
                dst.write(data)
                await dst.drain()
        except Exception:
            pass
        finally:
            dst.transport.abort()

    def _abort_all(self) -> None:
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    async def begin(self, kind: str) -> None:
        if kind == "refused":
            self.server.close()
            self._abort_all()
            await self.server.wait_closed()
        else:
            self.flowing.clear()

    async def end(self, kind: str) -> None:
        if kind == "refused":
            await self.start()
        else:
            self.flowing.set()

    async def close(self) -> None:
        self.flowing.set()
        if self.server is not None:
            self.server.close()
        self._abort_all()
        for task in list(self.tasks):
            task.cancel()


class OwnPostgres:
    """A PostgreSQL cluster of the test's own, run as user postgres."""

    BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self) -> None:
        need((self.BIN / "initdb").exists(), "PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin)")
        need(os.geteuid() == 0 and shutil.which("runuser") is not None, "root and runuser (to run postgres)")
        self.dir = Path(tempfile.mkdtemp(prefix="votemap-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = free_port()

    def url(self, name: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True,
                       timeout=120)

    def init(self) -> None:
        self._run(str(self.BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync")

    def start(self) -> None:
        self._run(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._run(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def cleanup(self) -> None:
        try:
            self.stop()
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


# ----- a map page ---------------------------------------------------------------
class MapPage:
    """What the map page does with `snapshot` and `votes`: apply deltas in order,
    repair a jump with `get_snapshot`. Records what it was shown."""

    def __init__(self, url: str, *, reconnection: bool = False) -> None:
        self.url = url
        self.client = socketio.AsyncClient(reconnection=reconnection, reconnection_delay=0.2,
                                           reconnection_delay_max=1)
        self.version = -1
        self.counts: dict[str, int] = {}
        self.delta_versions: set[int] = set()
        self.viewers: list[int] = []
        self.snapshots = 0
        self._resync: asyncio.Task | None = None
        self.client.on("snapshot", self._on_snapshot, namespace=NS)
        self.client.on("votes", self._on_votes, namespace=NS)
        self.client.on("viewers", lambda data: self.viewers.append(data["count"]), namespace=NS)

    async def connect(self, *, session: str | None = None) -> None:
        # A session cookie (any well-formed key) is what nginx's affinity hashes
        # on; without one, every client of this test would share 127.0.0.1's worker.
        headers = {"Cookie": f"sessionid={session}"} if session else {}
        await self.client.connect(self.url, namespaces=[NS], transports=["websocket"], wait_timeout=10,
                                  headers=headers)

    def _apply_snapshot(self, data: dict) -> None:
        if data["version"] >= self.version:
            self.version = data["version"]
            self.counts = {p["code"]: p["votes"] for p in data["provinces"]}
        self.viewers.append(data["viewers"])

    async def _on_snapshot(self, data: dict) -> None:
        self.snapshots += 1
        self._apply_snapshot(data)

    async def _on_votes(self, data: dict) -> None:
        self.delta_versions.add(data["version"])
        if data["version"] == self.version + 1:
            self.version = data["version"]
            self.counts.update(data["counts"])
        elif data["version"] > self.version and (self._resync is None or self._resync.done()):
            self._resync = asyncio.ensure_future(self._refresh())

    async def _refresh(self) -> None:
        try:
            ack = await self.client.call("get_snapshot", {}, namespace=NS, timeout=5)
        except Exception:
            return
        if ack.get("ok"):
            self._apply_snapshot(ack["data"])

    async def vote(self, code: str, vote_id: str | None = None, *, timeout: float = 10) -> dict:
        return await self.client.call(
            "vote", {"province": code, "direction": "up", "vote_id": vote_id or str(uuid.uuid4())},
            namespace=NS, timeout=timeout)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.client.disconnect(), 5)
        except Exception:
            pass


def database_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT code, votes FROM dashboard_province").fetchall())


def healthz(url: str) -> dict:
    import json

    try:
        with urllib.request.urlopen(url + "/healthz", timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:  # 503 while the queue is down: the body says why
        return json.load(exc)


def shared_breaker(url: str) -> dict:
    return healthz(url)["realtime"]["faults"]["shared_state"]["breaker"]


async def voter(page: MapPage, until: float, log: list) -> None:
    """One vote every 50 ms until `until` (loop time); (sent, answered, ack) each."""
    loop = asyncio.get_running_loop()
    n = 0
    while loop.time() < until:
        sent = loop.time()
        try:
            ack = await page.vote(CODES[n % len(CODES)], timeout=8)
        except Exception as exc:  # no ack at all
            ack = {"ok": False, "error": {"code": repr(exc)}}
        log.append((sent, loop.time(), ack))
        n += 1
        await asyncio.sleep(0.05)


# ----- Redis or RabbitMQ unreachable during traffic -------------------------------------
@pytest.mark.parametrize(("queue", "kind"), [
    ("redis", "refused"), ("redis", "black_hole"), ("rabbitmq", "refused"), ("rabbitmq", "black_hole"),
])
async def test_queue_outage_keeps_acking_and_heals_by_itself(queue, kind, fresh_postgres_database, tmp_path,
                                                              request):
    need(queue != "redis" or shutil.which("redis-server") is not None, "redis-server")
    # A long heartbeat: counts must come back because the breaker closed (the
    # presence re-publish), not because the next heartbeat happened to run.
    env = {"DATABASE_URL": fresh_postgres_database, "PRESENCE_HEARTBEAT_SECONDS": "30",
           "DASHBOARD_VOTE_RATE": "1000", "DASHBOARD_VOTE_BURST": "1000"}
    if queue == "redis":
        fault: OwnRedis | TcpProxy = OwnRedis(tmp_path)
        await asyncio.to_thread(fault.start)
        env["REDIS_URL"] = fault.url
    else:
        broker = request.getfixturevalue("rabbitmq_url")
        fault = TcpProxy(5672)
        await fault.start()
        env["MESSAGE_QUEUE_URL"] = broker.replace("127.0.0.1:5672", f"127.0.0.1:{fault.port}")
    env["SOCKETIO_REDIS_CHANNEL"] = f"votemap-faults-{uuid.uuid4().hex[:8]}"
    servers, pages = [], []
    try:
        for n in range(2):
            servers.append(await asyncio.to_thread(start_server_process, env=env,
                                                   log_path=tmp_path / f"w{n}.log"))
        # The listeners run from start-up, before any client connects (python-socketio
        # would start them at the first connection).
        for server in servers:
            await async_wait_until(
                lambda url=server.url: asyncio.to_thread(
                    lambda: healthz(url)["realtime"]["faults"]["message_queue"]["receiving"]),
                message="the listener started at start-up")
        pages = [MapPage(server.url) for server in servers]
        for page in pages:
            await page.connect()
        await async_wait_until(lambda: all(p.viewers and p.viewers[-1] == 2 for p in pages),
                               message="both pages see both viewers")
        ack = await pages[0].vote("28")
        await async_wait_until(lambda: ack["data"]["version"] in pages[1].delta_versions,
                               message="cross-process delivery before the outage")

        loop = asyncio.get_running_loop()
        await fault.begin(kind)
        began = loop.time()
        logs: list[list] = [[], []]
        traffic = [asyncio.ensure_future(voter(page, began + OUTAGE_SECONDS - 2.0, log))
                   for page, log in zip(pages, logs, strict=True)]
        await asyncio.sleep(OUTAGE_SECONDS / 2)
        during = await asyncio.to_thread(healthz, servers[0].url)
        await asyncio.gather(*traffic)
        await asyncio.sleep(max(0.0, began + OUTAGE_SECONDS - loop.time()))
        ended = loop.time()
        await fault.end(kind)

        # No process crashed; every vote sent during the outage was acked, ok,
        # while the outage lasted (not held until the queue came back).
        assert all(server.proc.poll() is None for server in servers)
        for log in logs:
            assert len(log) >= 10
            assert all(ack["ok"] for _, _, ack in log), [ack for _, _, ack in log if not ack["ok"]][:3]
            assert max(answered for _, answered, _ in log) < ended
        latencies = sorted(answered - sent for log in logs for sent, answered, _ in log)
        print(f"\n{queue}/{kind}: {len(latencies)} votes during the outage, ack p50 "
              f"{latencies[len(latencies) // 2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
        # Each page kept getting its own process's deltas.
        for page, log in zip(pages, logs, strict=True):
            own = {ack["data"]["version"] for _, _, ack in log}
            assert own <= page.delta_versions, sorted(own - page.delta_versions)[:5]
        # /healthz showed the breaker in front of the queue open (or trying).
        breaker = during["realtime"]["faults"]["message_queue"]["breaker"]
        assert breaker["state"] in ("open", "half_open"), during["realtime"]["faults"]
        assert breaker["opened"] >= 1

        # Healing, without a restart: cross-process delivery both ways...
        async def delivered_both_ways() -> bool:
            acks = [await page.vote("08") for page in pages]
            try:
                await async_wait_until(
                    lambda: acks[0]["data"]["version"] in pages[1].delta_versions
                    and acks[1]["data"]["version"] in pages[0].delta_versions, timeout=1.0)
            except AssertionError:
                return False
            return True

        await async_wait_until(delivered_both_ways, timeout=30, interval=0.2,
                               message="cross-process delivery after the outage")
        # ...counts (every page shows what the database holds) and viewers.
        expected = await asyncio.to_thread(database_counts, fresh_postgres_database)
        await async_wait_until(lambda: all(p.counts == expected for p in pages), timeout=10,
                               message="every page shows the database's counts")
        await async_wait_until(lambda: all(p.viewers[-1] == 2 for p in pages), timeout=15,
                               message="viewers back to the total of both processes")
        after = await asyncio.to_thread(healthz, servers[0].url)
        assert after["status"] == "ok"
        assert after["realtime"]["faults"]["message_queue"]["breaker"]["state"] == "closed"
        assert after["realtime"]["faults"]["message_queue"]["receiving"] is True
        assert all(server.proc.poll() is None for server in servers)
    finally:
        for page in pages:
            await page.close()
        for server in servers:
            await asyncio.to_thread(server.stop)
        if isinstance(fault, OwnRedis):
            await asyncio.to_thread(fault.stop)
        else:
            await fault.close()


# ----- PostgreSQL unavailable -------------------------------------------------------
@pytest.mark.parametrize("queue", ["none", "rabbitmq"])
async def test_postgres_down_answers_errors_writes_nothing_and_resumes(queue, tmp_path, request):
    # With RabbitMQ and no Redis the shared state (presence, the map's lock) is in
    # the same PostgreSQL, so it goes down with it.
    extra = {} if queue == "none" else {"MESSAGE_QUEUE_URL": request.getfixturevalue("rabbitmq_url"),
                                        "SOCKETIO_REDIS_CHANNEL": f"votemap-pg-{uuid.uuid4().hex[:8]}"}
    pg = OwnPostgres()
    server = None
    clients: list[socketio.AsyncClient] = []
    try:
        await asyncio.to_thread(pg.init)
        await asyncio.to_thread(pg.start)
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE votemap")
        env = {"DATABASE_URL": pg.url("votemap"),
               "DASHBOARD_VOTE_RATE": "1000", "DASHBOARD_VOTE_BURST": "1000",
               "CHAT_MESSAGE_RATE": "100", "CHAT_MESSAGE_BURST": "100", **extra}
        await asyncio.to_thread(migrate_database, env)
        server = await asyncio.to_thread(start_server_process, env=env, log_path=tmp_path / "server.log")
        page = MapPage(server.url)
        await page.connect()
        chat = socketio.AsyncClient(reconnection=False)
        clients.append(chat)
        await chat.connect(server.url, namespaces=["/chat"], transports=["websocket"], wait_timeout=10)
        joined = await chat.call("join", {"room": "cats"}, namespace="/chat", timeout=10)
        assert joined["ok"], joined

        async def send(client_id: str) -> dict:
            return await chat.call("send_message", {"room": "cats", "text": f"hello {client_id[:8]}",
                                                    "client_id": client_id}, namespace="/chat", timeout=10)

        before_vote, lost_votes, retried_vote = (str(uuid.uuid4()) for _ in range(3))
        before_msg, lost_msg, retried_msg = (str(uuid.uuid4()) for _ in range(3))
        assert (await page.vote("28", before_vote))["ok"]
        assert (await send(before_msg))["ok"]

        await asyncio.to_thread(pg.stop)
        answers = [await page.vote("28", vote_id) for vote_id in (lost_votes, retried_vote)]
        answers += [await send(client_id) for client_id in (lost_msg, retried_msg)]
        for answer in answers:
            assert answer["ok"] is False, answer
            assert answer["error"]["code"] == "internal", answer
        assert server.proc.poll() is None
        down = await asyncio.to_thread(healthz, server.url)
        assert down["status"] == "unavailable"
        if queue == "rabbitmq":  # presence and the map's lock fail fast behind their breaker
            await async_wait_until(
                lambda: asyncio.to_thread(lambda: shared_breaker(server.url)["opened"] >= 1),
                message="the shared-state breaker opened")

        await asyncio.to_thread(pg.start)
        # Service resumes by itself: the retries (same ids) go through, once.
        await async_wait_until(lambda: _ok(page.vote("28", retried_vote)), timeout=30, interval=0.5,
                               message="votes accepted again")
        await async_wait_until(lambda: _ok(send(retried_msg)), timeout=30, interval=0.5,
                               message="messages accepted again")
        assert (await page.vote("28", retried_vote))["ok"]
        again = await send(retried_msg)
        assert again["ok"]

        with psycopg.connect(pg.url("votemap")) as conn:
            votes = {str(row[0]) for row in conn.execute("SELECT vote_id FROM dashboard_vote")}
            count = conn.execute("SELECT votes FROM dashboard_province WHERE code = '28'").fetchone()[0]
            messages = [str(row[0]) for row in conn.execute(
                "SELECT client_id FROM chat_message WHERE client_id IS NOT NULL")]
        # Nothing half-written: what was refused is absent, what was retried is there once.
        assert votes == {before_vote, retried_vote}
        assert count == 2
        assert sorted(messages) == sorted([before_msg, retried_msg])
        assert server.proc.poll() is None
        if queue == "rabbitmq":
            await async_wait_until(
                lambda: asyncio.to_thread(lambda: shared_breaker(server.url)["state"] == "closed"),
                message="the shared-state breaker closed again")
            await async_wait_until(lambda: page.viewers[-1] == 1, message="viewers from the shared state")
        await page.close()
    finally:
        for client in clients:
            try:
                await asyncio.wait_for(client.disconnect(), 5)
            except Exception:
                pass
        if server is not None:
            await asyncio.to_thread(server.stop)
        await asyncio.to_thread(pg.cleanup)


async def _ok(call) -> bool:
    try:
        return bool((await call)["ok"])
    except Exception:
        return False


# ----- SIGKILL of one worker behind nginx ---------------------------------------------
class Voter(MapPage):
    """A map page through the balancer that casts its votes and, when an ack does
    not come (its worker died), sends them again with the same ids once it has
    reconnected, as the page does."""

    def __init__(self, url: str, votes: list[tuple[str, str]]) -> None:
        super().__init__(url, reconnection=True)
        self.votes = votes
        self.acked: dict[str, int] = {}

    async def run(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while len(self.acked) < len(self.votes) and loop.time() < deadline:
            if not self.client.connected or NS not in self.client.namespaces:
                await asyncio.sleep(0.1)
                continue
            chunk = [v for v in self.votes if v[0] not in self.acked][:5]
            results = await asyncio.gather(*[self.vote(code, vote_id, timeout=3) for vote_id, code in chunk],
                                           return_exceptions=True)
            for (vote_id, _), ack in zip(chunk, results, strict=True):
                if isinstance(ack, dict) and ack.get("ok"):
                    self.acked[vote_id] = ack["data"]["version"]
            await asyncio.sleep(0.02)


class ChatMember:
    """A chat page: joins `room` on every (re)connect and records `members`."""

    def __init__(self, url: str, room: str) -> None:
        self.url, self.room = url, room
        self.client = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2,
                                           reconnection_delay_max=1)
        self.members: list[int] = []
        self.client.on("connect", self._on_connect, namespace="/chat")
        self.client.on("members", self._on_members, namespace="/chat")

    async def _on_connect(self) -> None:
        asyncio.ensure_future(self._join())

    async def _join(self) -> None:
        try:
            ack = await self.client.call("join", {"room": self.room}, namespace="/chat", timeout=5)
        except Exception:
            return
        if ack.get("ok"):
            self.members.append(ack["data"]["members"])

    async def _on_members(self, data: dict) -> None:
        if data["room"] == self.room:
            self.members.append(data["count"])

    async def connect(self, *, session: str | None = None) -> None:
        headers = {"Cookie": f"sessionid={session}"} if session else {}
        await self.client.connect(self.url, namespaces=["/chat"], transports=["websocket"], wait_timeout=10,
                                  headers=headers)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.client.disconnect(), 5)
        except Exception:
            pass


async def test_sigkill_of_one_worker_behind_nginx_loses_and_doubles_nothing(
        message_queue, fresh_postgres_database, tmp_path):
    from collections import Counter

    from tests.core.test_cluster import _healthy, cluster

    need(cluster.nginx_binary() is not None, "nginx (apt-get install nginx)")
    ports = [free_port() for _ in range(2)]
    env = {"DATABASE_URL": fresh_postgres_database, **message_queue, "PRESENCE_HEARTBEAT_SECONDS": "1",
           "SOCKETIO_TRANSPORTS": "websocket", "DASHBOARD_VOTE_RATE": "1000", "DASHBOARD_VOTE_BURST": "1000",
           "SOCKETIO_REDIS_CHANNEL": f"votemap-kill-{uuid.uuid4().hex[:8]}"}
    workers = []
    nginx = None
    voters: list[Voter] = []
    members: list[ChatMember] = []
    try:
        for n, port in enumerate(ports):
            workers.append(await asyncio.to_thread(start_server_process, env=env, port=port,
                                                   log_path=tmp_path / f"w{n}.log"))
        listen = free_port()
        conf = cluster.write_nginx_files(tmp_path / "nginx", cluster.render_site(
            listen=f"127.0.0.1:{listen}", upstreams=[f"127.0.0.1:{port}" for port in ports],
            static_root=Path(__file__).resolve().parents[2] / "staticfiles"))
        # In the foreground (as scripts/cluster.py runs it), so stopping it stops nginx.
        nginx = subprocess.Popen(cluster.nginx_command(conf, "-g", "daemon off;"), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        site = f"http://127.0.0.1:{listen}"
        await async_wait_until(lambda: asyncio.to_thread(_healthy, site), message="nginx up")

        voters = [Voter(site, [(str(uuid.uuid4()), CODES[(i + n) % len(CODES)]) for i in range(150)])
                  for n in range(6)]
        members = [ChatMember(site, "cats") for _ in range(4)]
        for page in [*voters, *members]:
            await page.connect(session=secrets.token_hex(16))

        async def per_worker() -> list[int]:
            return [(await asyncio.to_thread(healthz, worker.url))["realtime"]["edge"]["connections"]
                    for worker in workers]

        # nginx hashes each session to a worker: both must have voters. Random
        # keys can land on one worker; move one voter to a new session until not.
        for attempt in range(40):
            if all(await per_worker()):
                break
            moved = voters[attempt % len(voters)]
            await moved.close()
            await moved.connect(session=secrets.token_hex(16))
        assert all(await per_worker()), "both workers have clients"
        await async_wait_until(lambda: all(p.members and p.members[-1] == 4 for p in members),
                               message="members before the kill")

        loop = asyncio.get_running_loop()
        burst = [asyncio.ensure_future(v.run(loop.time() + 120)) for v in voters]
        total = sum(len(v.votes) for v in voters)
        await async_wait_until(lambda: sum(len(v.acked) for v in voters) >= total // 3, timeout=60,
                               message="a third of the votes acked")
        await asyncio.to_thread(workers[0].kill)  # SIGKILL, under load
        assert sum(len(v.acked) for v in voters) < total
        await asyncio.gather(*burst)
        assert all(len(v.acked) == len(v.votes) for v in voters)
        assert workers[1].proc.poll() is None

        # Every acked vote is counted exactly once.
        with psycopg.connect(fresh_postgres_database) as conn:
            ids = [str(row[0]) for row in conn.execute("SELECT vote_id FROM dashboard_vote")]
            counts = dict(conn.execute("SELECT code, votes FROM dashboard_province").fetchall())
            version = conn.execute("SELECT version FROM dashboard_votingstate").fetchone()[0]
        sent = {vote_id for v in voters for vote_id, _ in v.votes}
        assert len(ids) == len(set(ids)) == total and set(ids) == sent
        expected = Counter(code for v in voters for _, code in v.votes)
        assert {code: counts[code] for code in expected} == dict(expected)

        # Every page converges to the same version and counts, the database's.
        await async_wait_until(lambda: all(v.version == version and v.counts == counts for v in voters),
                               timeout=15, message="every page on the database's version and counts")
        # No ghosts: the dead worker's viewers and members stop counting.
        await async_wait_until(lambda: all(v.viewers and v.viewers[-1] == len(voters) for v in voters),
                               timeout=15, message="viewers back to the real total")
        await async_wait_until(lambda: all(p.members and p.members[-1] == len(members) for p in members),
                               timeout=15, message="members back to the real total")
    finally:
        for page in [*voters, *members]:
            await page.close()
        if nginx is not None:
            nginx.terminate()
            try:
                nginx.wait(10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait(10)
        for worker in workers:
            await asyncio.to_thread(worker.stop)
