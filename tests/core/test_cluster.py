"""`make cluster`: workers behind nginx with deploy/nginx/votemap.conf, as one site."""

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
import socketio

from tests.conftest import ROOT, _tcp_open, child_environment, free_port, need, receive_event

SCRIPT = ROOT / "scripts" / "cluster.py"
_spec = importlib.util.spec_from_file_location("votemap_cluster", SCRIPT)
cluster = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cluster)


def test_render_fills_every_field_and_refuses_what_would_break_the_syntax() -> None:
    site = cluster.render_site(listen="127.0.0.1:8000", upstreams=["127.0.0.1:8001", "127.0.0.1:8002"],
                               static_root="/srv/votemap/staticfiles/")
    assert "@" not in site.replace("$binary_remote_addr", "")
    assert "    server 127.0.0.1:8001;\n    server 127.0.0.1:8002;" in site
    assert "listen 127.0.0.1:8000;" in site and "alias /srv/votemap/staticfiles/;" in site
    with pytest.raises(ValueError):
        cluster.render_site(listen="80; include /etc/passwd", upstreams=["127.0.0.1:8001"], static_root="/s")
    with pytest.raises(ValueError):
        cluster.render_site(listen="80", upstreams=[], static_root="/s")


def test_check_refuses_sqlite_and_a_missing_queue_with_a_clear_message() -> None:
    def check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(SCRIPT), "check"], env=child_environment(env),
                              cwd=ROOT, capture_output=True, text=True, timeout=60)

    alone = check({})
    assert alone.returncode == 2
    assert "DATABASE_URL=postgres://" in alone.stderr and "MESSAGE_QUEUE_URL=amqp://" in alone.stderr
    on_sqlite = check({"MESSAGE_QUEUE_URL": "amqp://guest:guest@127.0.0.1:5672//"})
    assert on_sqlite.returncode == 2 and "not SQLite" in on_sqlite.stderr
    queue_only = check({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x"})
    assert queue_only.returncode == 2 and "REDIS_URL=redis://" in queue_only.stderr
    assert "DATABASE_URL" not in queue_only.stderr


@pytest.mark.services
def test_the_site_file_passes_nginx_t(tmp_path) -> None:
    need(cluster.nginx_binary() is not None, "nginx (apt-get install nginx)")
    conf = cluster.write_nginx_files(tmp_path / "nginx", cluster.render_site(
        listen=f"127.0.0.1:{free_port()}", upstreams=["127.0.0.1:1", "127.0.0.1:2"],
        static_root=ROOT / "staticfiles"))
    checked = cluster.nginx_test(conf)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    # ...and nginx does check it: a broken site file fails.
    site = conf.parent / "votemap.conf"
    site.write_text(site.read_text().replace("least_conn;", "least_conn"))
    assert cluster.nginx_test(conf).returncode != 0


def _three_free_ports() -> int:
    for _ in range(50):
        port = free_port()
        if port < 65000 and not any(_tcp_open("127.0.0.1", port + i) for i in (1, 2)):
            return port
    raise RuntimeError("no three free ports in a row")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


async def _connect(url: str) -> socketio.AsyncSimpleClient:
    client = socketio.AsyncSimpleClient()
    await client.connect(url, namespace="/map-dashboard", transports=["websocket"], wait_timeout=10)
    return client


async def _wait_for_viewers(client, count: int, timeout: float = 15.0) -> dict:
    """Read events until the client has its snapshot and has been shown `count`
    viewers (in the snapshot, or in a later `viewers` event); the snapshot."""
    deadline = time.monotonic() + timeout
    snapshot, shown = None, []
    while snapshot is None or count not in shown:
        left = deadline - time.monotonic()
        assert left > 0, f"viewers shown: {shown}"
        name, *args = await client.receive(timeout=left)
        if name == "snapshot":
            snapshot = args[0]
            shown.append(snapshot["viewers"])
        elif name == "viewers":
            shown.append(args[0]["count"])
    return snapshot


async def _wait_for(client, event, predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no matching {event!r}"
        payload = await receive_event(client, event, timeout=left)
        if predicate(payload):
            return payload


@pytest.mark.services
@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_two_workers_behind_nginx_are_one_site(fresh_postgres_database, rabbitmq_url, tmp_path) -> None:
    need(cluster.nginx_binary() is not None, "nginx (apt-get install nginx)")
    port = _three_free_ports()
    env = child_environment({
        "DATABASE_URL": fresh_postgres_database, "MESSAGE_QUEUE_URL": rabbitmq_url,
        "SOCKETIO_REDIS_CHANNEL": f"votemap-test-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        "PRESENCE_HEARTBEAT_SECONDS": "1",
    })
    log = open(tmp_path / "cluster.log", "wb")
    supervisor = subprocess.Popen([sys.executable, str(SCRIPT), "run", "--workers", "2", "--port", str(port)],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    site, workers = f"http://127.0.0.1:{port}", [f"http://127.0.0.1:{port + i}" for i in (1, 2)]
    clients: list[socketio.AsyncSimpleClient] = []
    try:
        deadline = time.monotonic() + 60
        while not all(await asyncio.gather(*(asyncio.to_thread(_healthy, url) for url in [site, *workers]))):
            assert supervisor.poll() is None, (tmp_path / "cluster.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "cluster.log").read_text()[-3000:]
            await asyncio.sleep(0.1)

        # /healthz through nginx checks RabbitMQ; static files come from disk
        # (nginx's `expires 1h`, where WhiteNoise would say max-age=60).
        with urllib.request.urlopen(site + "/healthz", timeout=5) as resp:
            assert json.load(resp)["checks"] == {"database": "ok", "message_queue": "ok"}
        with urllib.request.urlopen(site + "/static/admin/css/base.css", timeout=5) as resp:
            assert resp.status == 200
            assert resp.headers["Cache-Control"] == "max-age=3600"
            assert resp.headers["X-Content-Type-Options"] == "nosniff"

        # A viewer through nginx's port and one on each worker: one map.
        clients = [await _connect(site), await _connect(workers[0]), await _connect(workers[1])]
        snapshots = [await _wait_for_viewers(client, 3) for client in clients]
        start = snapshots[0]["version"]
        ack = await clients[0].call("vote", {"province": "28", "direction": "up"}, timeout=10)
        assert ack["ok"], ack
        assert ack["data"]["version"] == start + 1
        for client in clients:
            delta = await _wait_for(client, "votes", lambda p: p["version"] == start + 1)
            assert delta["counts"] == {"28": 1}
        # Polling is refused: nginx is not sticky, so the workers are WebSocket only.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(site + "/socket.io/?EIO=4&transport=polling", timeout=5)
        assert refused.value.code == 400
    finally:
        for client in clients:
            if client.connected:
                await asyncio.wait_for(client.disconnect(), 5)
        if supervisor.poll() is None:
            supervisor.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(supervisor.wait, 30)
        log.close()
    # SIGTERM stops everything it started, and it says so with a clean exit.
    assert code == 0, (tmp_path / "cluster.log").read_text()[-3000:]
    assert not any(_tcp_open("127.0.0.1", port + i) for i in (0, 1, 2))
