"""`make cluster`: workers behind nginx with deploy/nginx/votemap.conf, as one site."""

import asyncio
import contextlib
import http.cookies
import importlib.util
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

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
    # Affinity by session cookie, else address; no TLS lines without a certificate.
    assert "hash $votemap_affinity consistent;" in site and "least_conn" not in site
    assert "map $cookie_sessionid $votemap_affinity" in site
    directives = "\n".join(line for line in site.splitlines() if not line.lstrip().startswith("#"))
    assert "ssl" not in directives and "return 301" not in directives
    with pytest.raises(ValueError):
        cluster.render_site(listen="80; include /etc/passwd", upstreams=["127.0.0.1:8001"], static_root="/s")
    with pytest.raises(ValueError):
        cluster.render_site(listen="80", upstreams=[], static_root="/s")
    with pytest.raises(ValueError):
        cluster.render_site(listen="80", upstreams=["127.0.0.1:1"], static_root="/s", session_cookie="a b")
    with pytest.raises(ValueError):
        cluster.render_site(listen="443", upstreams=["127.0.0.1:1"], static_root="/s",
                            tls=cluster.Tls(certificate="/c;", certificate_key="/k"))


def test_render_with_a_certificate_serves_https_and_redirects_http() -> None:
    tls = cluster.Tls(certificate="/etc/ssl/votemap.pem", certificate_key="/etc/ssl/votemap.key")
    site = cluster.render_site(listen="443", upstreams=["127.0.0.1:8001"], static_root="/s",
                               server_name="vote.example.org", tls=tls)
    assert "@" not in site.replace("$binary_remote_addr", "")
    assert not [line for line in site.splitlines() if line.startswith("#tls")]
    assert "listen 443 ssl http2;" in site
    assert "    ssl_certificate     /etc/ssl/votemap.pem;" in site
    assert "    ssl_certificate_key /etc/ssl/votemap.key;" in site
    assert "listen 80;" in site and "return 301 https://$host$request_uri;" in site
    # Another https port goes into the redirect's URL.
    other = cluster.render_site(listen="127.0.0.1:8443", upstreams=["127.0.0.1:8001"], static_root="/s",
                                tls=cluster.Tls(certificate="/c", certificate_key="/k",
                                                http_listen="127.0.0.1:8080"))
    assert "listen 127.0.0.1:8443 ssl http2;" in other and "listen 127.0.0.1:8080;" in other
    assert "return 301 https://$host:8443$request_uri;" in other


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> cluster.Tls:
    """A self-signed certificate for 127.0.0.1, made by openssl."""
    need(shutil.which("openssl") is not None, "openssl")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    return cluster.Tls(certificate=folder / "cert.pem", certificate_key=folder / "key.pem")


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
@pytest.mark.parametrize("with_tls", [False, True], ids=["http", "https"])
def test_the_site_file_passes_nginx_t(tmp_path, with_tls, request) -> None:
    need(cluster.nginx_binary() is not None, "nginx (apt-get install nginx)")
    tls = None
    if with_tls:
        base = request.getfixturevalue("certificate")
        tls = cluster.Tls(certificate=base.certificate, certificate_key=base.certificate_key,
                          http_listen=f"127.0.0.1:{free_port()}")
    conf = cluster.write_nginx_files(tmp_path / "nginx", cluster.render_site(
        listen=f"127.0.0.1:{free_port()}", upstreams=["127.0.0.1:1", "127.0.0.1:2"],
        static_root=ROOT / "staticfiles", tls=tls))
    checked = cluster.nginx_test(conf)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    # ...and nginx does check it: a broken site file fails.
    site = conf.parent / "votemap.conf"
    site.write_text(site.read_text().replace("consistent;", "consistent"))
    assert cluster.nginx_test(conf).returncode != 0


def _three_free_ports() -> int:
    for _ in range(50):
        port = free_port()
        if port < 65000 and not any(_tcp_open("127.0.0.1", port + i) for i in (1, 2)):
            return port
    raise RuntimeError("no three free ports in a row")


def _healthy(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2, context=context) as resp:
            return resp.status == 200
    except OSError:
        return False


METRICS_TOKEN = "cluster-metrics-token-" + "c" * 20


def _metrics(url: str, context: ssl.SSLContext | None = None) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value, from /metrics with the token."""
    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    with urllib.request.urlopen(request, timeout=5, context=context) as resp:
        text = resp.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


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
        "PRESENCE_HEARTBEAT_SECONDS": "1", "METRICS_TOKEN": METRICS_TOKEN,
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
        # The workers share a metrics folder: /metrics through nginx adds up both.
        metrics = _metrics(site)
        assert metrics[("votemap_connections", (("namespace", "/map-dashboard"),))] == 3
        assert metrics[("votemap_events_total", (("event", "vote"), ("namespace", "/map-dashboard"),
                                                 ("result", "ok")))] == 1
        # Polling is refused: the workers are WebSocket only (nginx's affinity
        # follows the session cookie, which a login renews; docs/deployment.md).
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


@contextlib.asynccontextmanager
async def _running_cluster(args: list[str], env: dict[str, str], log_path: Path, *, healthy: list[str],
                           context: ssl.SSLContext | None = None) -> AsyncIterator[subprocess.Popen]:
    """`scripts/cluster.py run ARGS` until every URL in `healthy` answers /healthz;
    stopped with SIGTERM afterwards, which must end it cleanly."""
    log = open(log_path, "wb")
    supervisor = subprocess.Popen([sys.executable, str(SCRIPT), "run", *args], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not all(await asyncio.gather(*(
                asyncio.to_thread(_healthy, url, context if url.startswith("https") else None)
                for url in healthy))):
            assert supervisor.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            await asyncio.sleep(0.1)
        yield supervisor
    finally:
        if supervisor.poll() is None:
            supervisor.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(supervisor.wait, 30)
        log.close()
    assert code == 0, log_path.read_text()[-3000:]


def _cookies(resp) -> http.cookies.SimpleCookie:
    jar = http.cookies.SimpleCookie()
    for header in resp.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return jar


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.services
@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_tls_at_the_proxy_with_the_production_settings(fresh_postgres_database, redis_url, certificate,
                                                             tmp_path) -> None:
    """nginx with the TLS lines of the site file and a self-signed certificate,
    one worker with deploy/votemap.env.example's settings: https works end to
    end and Django sees it (X-Forwarded-Proto), plain HTTP is redirected."""
    from tests.core.test_deploy import environment_file

    need(cluster.nginx_binary() is not None, "nginx (apt-get install nginx)")
    port, http_port = _three_free_ports(), free_port()
    env = child_environment(environment_file(
        DATABASE_URL=fresh_postgres_database, REDIS_URL=redis_url, METRICS_TOKEN=METRICS_TOKEN,
        SOCKETIO_REDIS_CHANNEL=f"votemap-test-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        REDIS_KEY_PREFIX=f"vmtest{os.getpid()}tls:"))
    context = ssl.create_default_context(cafile=str(certificate.certificate))
    site, worker = f"https://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
    args = ["--workers", "1", "--port", str(port), "--http-port", str(http_port),
            "--tls-certificate", str(certificate.certificate),
            "--tls-certificate-key", str(certificate.certificate_key)]
    async with _running_cluster(args, env, tmp_path / "cluster.log", healthy=[site, worker], context=context):
        # Django's HSTS header is only sent on a request it sees as secure: the
        # X-Forwarded-Proto: https from nginx reached it.
        with urllib.request.urlopen(site + "/healthz", timeout=5, context=context) as resp:
            assert json.load(resp)["status"] == "ok"
            assert (resp.headers["Strict-Transport-Security"] or "").startswith("max-age=31536000"), \
                "Django did not see the request as https"
        with urllib.request.urlopen(worker + "/healthz", timeout=5) as resp:  # the balancer's check
            assert "Strict-Transport-Security" not in resp.headers
        # A page over https: no redirect loop, and the session cookie is Secure.
        with urllib.request.urlopen(site + "/", timeout=5, context=context) as resp:
            assert resp.status == 200
            cookie = _cookies(resp)
            assert cookie["sessionid"]["secure"]
        # Plain HTTP at the proxy only redirects to https.
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirected:
            opener.open(f"http://127.0.0.1:{http_port}/map/?x=1", timeout=5)
        assert redirected.value.code == 301
        assert redirected.value.headers["Location"] == f"https://127.0.0.1:{port}/map/?x=1"
        # WebSocket over TLS through nginx, with the session cookie.
        client = socketio.AsyncSimpleClient(ssl_verify=False)
        await client.connect(site, namespace="/map-dashboard", transports=["websocket"], wait_timeout=10,
                             headers={"Cookie": f"sessionid={cookie['sessionid'].value}"})
        try:
            name, *_ = await client.receive(timeout=10)
            assert name == "snapshot"
            ack = await client.call("vote", {"province": "28", "direction": "up"}, timeout=10)
            assert ack["ok"], ack
        finally:
            await asyncio.wait_for(client.disconnect(), 5)
        assert _metrics(site, context)[("votemap_events_total", (
            ("event", "vote"), ("namespace", "/map-dashboard"), ("result", "ok")))] == 1


def _connections_per_worker(workers: list[str]) -> list[int]:
    counts = []
    for url in workers:
        with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
            counts.append(json.load(resp)["realtime"]["edge"]["connections"])
    return counts


@pytest.mark.services
@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_one_session_reaches_one_worker_so_its_bucket_holds_site_wide(fresh_postgres_database,
                                                                            redis_url, tmp_path) -> None:
    need(cluster.nginx_binary() is not None, "nginx (apt-get install nginx)")
    port = _three_free_ports()
    env = child_environment({
        "DATABASE_URL": fresh_postgres_database, "REDIS_URL": redis_url,
        "SOCKETIO_REDIS_CHANNEL": f"votemap-test-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        "REDIS_KEY_PREFIX": f"vmtest{os.getpid()}aff:",
        # One session may use one connection's allowance, in all its tabs together:
        # 3 votes, then one every 100 s.
        "RATE_LIMIT_SESSION_MULTIPLIER": "1", "DASHBOARD_VOTE_BURST": "3", "DASHBOARD_VOTE_RATE": "0.01",
    })
    site, workers = f"http://127.0.0.1:{port}", [f"http://127.0.0.1:{port + i}" for i in (1, 2)]
    clients: list[socketio.AsyncSimpleClient] = []

    def new_session() -> str:
        # A page view through nginx makes the session (every request comes from
        # 127.0.0.1 here: one address, like an audience behind a NAT).
        with urllib.request.urlopen(site + "/", timeout=5) as resp:
            return _cookies(resp)["sessionid"].value

    async def connect(session: str | None) -> socketio.AsyncSimpleClient:
        client = socketio.AsyncSimpleClient()
        headers = {"Cookie": f"sessionid={session}"} if session else {}
        await client.connect(site, namespace="/map-dashboard", transports=["websocket"], headers=headers,
                             wait_timeout=10)
        clients.append(client)
        await client.receive(timeout=10)  # the snapshot: registered by the edge
        return client

    async def worker_of_next(session: str | None) -> tuple[socketio.AsyncSimpleClient, int]:
        before = await asyncio.to_thread(_connections_per_worker, workers)
        client = await connect(session)
        after = await asyncio.to_thread(_connections_per_worker, workers)
        grown = [index for index, (b, a) in enumerate(zip(before, after)) if a == b + 1]
        assert len(grown) == 1 and sum(after) == sum(before) + 1, (before, after)
        return client, grown[0]

    async with _running_cluster(["--workers", "2", "--port", str(port)], env, tmp_path / "cluster.log",
                                healthy=[site, *workers]):
        try:
            # Sessions are spread over the workers, and every connection of one
            # session reaches the same worker (tabs, reconnects).
            seen: dict[int, str] = {}
            for _ in range(24):
                session = new_session()
                first, index = await worker_of_next(session)
                for _ in range(2):
                    assert (await worker_of_next(session))[1] == index
                seen.setdefault(index, session)
                if len(seen) == 2:
                    break
            assert set(seen) == {0, 1}, "24 sessions all reached one worker"
            # Connections without a session: by address, all to one worker.
            anonymous = {(await worker_of_next(None))[1] for _ in range(3)}
            assert len(anonymous) == 1

            # The session bucket holds across two tabs: 3 votes in all, not 3 each.
            session = new_session()
            tab_a, worker_a = await worker_of_next(session)
            tab_b, worker_b = await worker_of_next(session)
            assert worker_a == worker_b
            for _ in range(3):
                ack = await tab_a.call("vote", {"province": "28", "direction": "up"}, timeout=10)
                assert ack["ok"], ack
            refused = await tab_b.call("vote", {"province": "28", "direction": "up"}, timeout=10)
            assert refused["ok"] is False and refused["error"]["code"] == "rate_limited", refused
        finally:
            for client in clients:
                if client.connected:
                    await asyncio.wait_for(client.disconnect(), 5)
