"""Shared fixtures: a live uvicorn server, Socket.IO clients, services, a browser.

`live_site` runs the real ASGI application (Django + the Socket.IO server,
lifespan included) with uvicorn in a thread on a free port, against the test
database. Each test gets a freshly built realtime server, so no in-process
state leaks between tests. Tests that use it need
`@pytest.mark.django_db(transaction=True)` so their data is committed and
visible to the server's threads.
"""

import asyncio
import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import socketio
import uvicorn

from django.conf import settings as _settings

ROOT = Path(__file__).resolve().parent.parent

# Tests serve static files straight from the sources and the esbuild output
# (WhiteNoise's finders mode), so they need `npm run build` but not
# `collectstatic`, and templates render without a manifest.
_settings.STORAGES = {**_settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
_settings.WHITENOISE_USE_FINDERS = True
_settings.WHITENOISE_AUTOREFRESH = True
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def need(condition: bool, what: str) -> None:
    """Skip when a component is missing on a user's machine; fail under CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI (.ci/run installs or starts it)")
    pytest.skip(f"{what} is not available on this machine")


@dataclass
class LiveServer:
    host: str
    port: int
    app: object

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def realtime(self):  # the RealtimeServer behind this live server
        from votemap_site.realtime.server import current

        return current()


class _ThreadedUvicorn:
    def __init__(self, app: object, port: int) -> None:
        from votemap_site.serve import uvicorn_options

        # The site's own uvicorn flags (WebSocket message limit included).
        options = {**uvicorn_options(), "timeout_graceful_shutdown": 2}
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def live_site(transactional_db, settings) -> Iterator[LiveServer]:
    from votemap_site.asgi import build_application

    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    app = build_application()
    port = free_port()
    runner = _ThreadedUvicorn(app, port)
    runner.start()
    try:
        yield LiveServer(host="127.0.0.1", port=port, app=app)
    finally:
        runner.stop()


@pytest.fixture
async def sio_client(live_site) -> AsyncIterator:
    """Factory of connected `socketio.AsyncSimpleClient`s, disconnected at teardown.

    `client = await sio_client("/map-dashboard", cookies={"sessionid": key})`
    """
    clients: list[socketio.AsyncSimpleClient] = []

    async def connect(
        namespace: str,
        *,
        cookies: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        transports: list[str] | None = None,
    ) -> socketio.AsyncSimpleClient:
        all_headers = dict(headers or {})
        if cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        client = socketio.AsyncSimpleClient()
        await client.connect(
            live_site.url, namespace=namespace, headers=all_headers,
            transports=transports or ["websocket"], wait_timeout=10,
        )
        clients.append(client)
        return client

    yield connect
    for client in clients:
        try:
            await asyncio.wait_for(client.disconnect(), 5)
        except Exception:
            pass


async def receive_event(client: socketio.AsyncSimpleClient, event: str, timeout: float = 5.0) -> dict:
    """Receive events until `event` arrives (others are skipped); its payload."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no {event!r} within {timeout}s")
        name, *args = await client.receive(timeout=remaining)
        if name == event:
            assert len(args) == 1 and isinstance(args[0], dict), (event, args)
            return args[0]


@pytest.fixture
def make_session(db):
    """Create a Django session (optionally logged in) and return its cookie dict.

    Works from sync and async tests alike."""
    from django.conf import settings as dj_settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    def make(user=None, **data) -> dict[str, str]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return _make(user, **data)
        # Called from an async test: the ORM must not run on the event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(_make, user, **data).result()

    def _make(user=None, **data) -> dict[str, str]:
        store = SessionStore()
        for key, value in data.items():
            store[key] = value
        if user is not None:
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save()
        return {dj_settings.SESSION_COOKIE_NAME: store.session_key}

    return make


# ----- external services (PostgreSQL, Redis) -------------------------------
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    need(_tcp_open("127.0.0.1", 6379), "Redis on 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    need(_tcp_open("127.0.0.1", 5672), "RabbitMQ on 127.0.0.1:5672")
    return RABBITMQ_URL


@pytest.fixture(params=["redis", "rabbitmq"])
def message_queue(request) -> dict[str, str]:
    """The settings of one message queue: scale-out tests run on Redis, and on
    RabbitMQ without Redis (shared counts and locks then in PostgreSQL)."""
    if request.param == "redis":
        return {"REDIS_URL": request.getfixturevalue("redis_url")}
    return {"MESSAGE_QUEUE_URL": request.getfixturevalue("rabbitmq_url")}


@pytest.fixture(scope="session")
def postgres_url() -> str:
    need(_tcp_open("127.0.0.1", 5432), "PostgreSQL on 127.0.0.1:5432")
    return POSTGRES_URL


# ----- server processes (crash and multi-worker tests) ---------------------
@dataclass
class ServerProcess:
    port: int
    proc: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


# ----- environments of child processes ----------------------------------
# Every setting of the site is read from the environment, so a variable left in
# the developer's shell (a DATABASE_URL, a REDIS_URL, a fan-out channel, a rate
# limit, another .env) would silently point a server started by a test at other
# state. Child processes get none of them: a test passes the ones it means
# (`env=`). tests/core/test_hermetic.py checks that every variable settings.py
# reads is covered here.
SITE_VARIABLE_PREFIXES = (
    "DJANGO_", "DATABASE_", "SQLITE_", "REDIS_", "SOCKETIO_", "MESSAGE_QUEUE_", "RABBITMQ_", "AMQP_",
    "SESSION_", "RATE_LIMIT_", "PRESENCE_", "LOBBY_", "DASHBOARD_", "CHAT_", "GAME_", "FORWARDED_",
    "METRICS_", "LOG_FORMAT",
    # the metrics' folder of several processes (votemap_site/metrics.py)
    "PROMETHEUS_MULTIPROC_DIR",
    # libpq fills in whatever a PostgreSQL URL leaves out from these
    "PG",
)
# Set by pytest for its own process; a server must behave as it does in production.
TEST_RUN_VARIABLES = {"PYTEST_VERSION", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS"}
# What every server and migration started by a test runs with.
CHILD_SETTINGS = {
    "DJANGO_DEBUG": "False",
    "DJANGO_SECRET_KEY": "test-secret-" + "x" * 40,
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_ENV_FILE": "",  # neither the developer's .env nor tests/test.env
}


def redirects_state(name: str) -> bool:
    return name.startswith(SITE_VARIABLE_PREFIXES) or name in TEST_RUN_VARIABLES


def child_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any site setting, plus the test settings and `env`."""
    inherited = {name: value for name, value in os.environ.items() if not redirects_state(name)}
    return {**inherited, **CHILD_SETTINGS, **(env or {})}


def start_server_process(*, env: dict[str, str], log_path: Path, port: int | None = None,
                         command: list[str] | None = None) -> ServerProcess:
    """Run the site (`python -m votemap_site.serve`, or `command` + host and port options)
    in a subprocess and wait for /healthz."""
    import urllib.request

    port = port or free_port()
    full_env = child_environment({
        # workers of one test run share a fan-out channel (Redis) or exchange
        # (RabbitMQ); other runs never see it
        "SOCKETIO_REDIS_CHANNEL": f"votemap-test-{os.getpid()}",
        "REDIS_KEY_PREFIX": f"vmtest{os.getpid()}:", **env})
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [*(command or [sys.executable, "-m", "votemap_site.serve"]), "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early; see {log_path}:\n{log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return ServerProcess(port=port, proc=proc, log_path=log_path)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not become healthy; see {log_path}")


def migrate_database(env: dict[str, str]) -> None:
    """Run migrations (with the initial data) against the database in `env`."""
    full_env = child_environment(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                   cwd=ROOT, env=full_env, check=True, timeout=180)


# ----- browser -----------------------------------------------------------
BUILD_DIR = ROOT / "votemap_site" / "static" / "build"


def frontend_sources_hash(root: Path = ROOT) -> str:
    """What frontend/build.mjs records in build/sources.sha256 (the same recipe)."""
    import hashlib

    files = [*(p for p in (root / "frontend" / "src").rglob("*") if p.is_file()),
             root / "frontend" / "build.mjs", root / "package-lock.json"]
    names = sorted(p.relative_to(root).as_posix() for p in files)
    lines = "".join(f"{name}\0{hashlib.sha256((root / name).read_bytes()).hexdigest()}\n" for name in names)
    return hashlib.sha256(lines.encode()).hexdigest()


def check_bundle_is_current(root: Path = ROOT) -> None:
    """Fail (never skip) when the bundle was not built from the current sources."""
    recorded_file = root / BUILD_DIR.relative_to(ROOT) / "sources.sha256"
    recorded = recorded_file.read_text().strip() if recorded_file.exists() else None
    if recorded != frontend_sources_hash(root):
        pytest.fail(f"{BUILD_DIR.relative_to(ROOT)} was not built from the current frontend/src, "
                    "frontend/build.mjs and package-lock.json: run `npm run build` (`make test` does)")


@pytest.fixture(scope="session")
def browser_available() -> None:
    need(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM} (apt install chromium)")
    need(shutil.which("node") is not None, "Node.js")
    need((ROOT / "node_modules" / "playwright-core").is_dir(), "playwright-core (npm ci)")
    need((BUILD_DIR / "landing.js").exists(), "the front-end build (npm run build)")
    check_bundle_is_current()


def run_browser_script(script: str, *, base_url: str, timeout: float = 90, **params: object) -> dict:
    """Run tests/e2e/<script>.mjs with node; it prints one JSON object as its last line.

    Parameters reach the script as the JSON in env E2E_PARAMS; BASE_URL is the live server.
    """
    env = {**child_environment(), "BASE_URL": base_url, "CHROMIUM_PATH": CHROMIUM, "E2E_PARAMS": json.dumps(params)}
    proc = subprocess.run(
        ["node", str(ROOT / "tests" / "e2e" / f"{script}.mjs")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"{script}.mjs failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


@pytest.fixture
def fresh_postgres_database(postgres_url) -> Iterator[str]:
    """A new, migrated PostgreSQL database (initial data included); dropped afterwards."""
    import uuid

    import psycopg

    name = f"votemap_test_{uuid.uuid4().hex[:12]}"
    base, _, _ = postgres_url.rpartition("/")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    try:
        migrate_database({"DATABASE_URL": url})
        yield url
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
