"""Settings for votemap_site, read from the environment with django-environ.

One file for every deployment: local defaults are safe (SQLite, in-memory
Socket.IO manager, one process), and production is the same file with other
environment variables (see .env.example and docs/deployment.md). With
DJANGO_DEBUG off the site refuses to start without DJANGO_SECRET_KEY.
"""

import os
import tempfile
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env (written by `make` from .env.example on first use) is read when
# present; real environment variables always win over it. Under pytest (which
# sets PYTEST_VERSION for its run) the committed tests/test.env is read instead:
# a developer's .env (a PostgreSQL URL, a Redis, other limits) must never change
# what the test suite sees. DJANGO_ENV_FILE names another file; empty: none.
_DEFAULT_ENV_FILE = BASE_DIR / ("tests/test.env" if os.environ.get("PYTEST_VERSION") else ".env")
ENV_FILE = env.str("DJANGO_ENV_FILE", default=str(_DEFAULT_ENV_FILE))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it in the environment (or in .env) "
            "before starting with DJANGO_DEBUG off."
        )
    SECRET_KEY = "insecure-local-development-key-only-used-with-DJANGO_DEBUG-on"

def _env_list(name: str, default: list[str]) -> list[str]:
    return [item.strip() for item in env.list(name, default=default) if item.strip()]


ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = _env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "votemap_site",
    "dashboard",
    "chat",
    "grid_game",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "votemap_site.middleware.EnsureSessionMiddleware",
]

ROOT_URLCONF = "votemap_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "votemap_site.context_processors.realtime",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "votemap_site.asgi.application"

# --- Database -----------------------------------------------------------
# Embedded default: a SQLite file in WAL mode. IMMEDIATE transactions take the
# write lock up front, so concurrent writers queue on the busy timeout instead
# of failing with "database is locked" when a read lock is upgraded.
SQLITE_PATH = env.str("SQLITE_PATH", default="") or str(BASE_DIR / "db.sqlite3")
SQLITE_SYNCHRONOUS = env.str("SQLITE_SYNCHRONOUS", default="NORMAL").upper()
if SQLITE_SYNCHRONOUS not in {"NORMAL", "FULL"}:
    raise ImproperlyConfigured("SQLITE_SYNCHRONOUS must be NORMAL or FULL")
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{SQLITE_PATH}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            # WAL + synchronous=NORMAL: a commit survives a process crash
            # (kill -9); FULL also survives power loss at one fsync per commit.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=20000; "
                f"PRAGMA synchronous={SQLITE_SYNCHRONOUS};"
            ),
        }
    )
    # Persistent connection: reopening SQLite per event would redo the PRAGMAs.
    DATABASES["default"]["CONN_MAX_AGE"] = None
    # Tests use a file (live servers run in other threads and processes); one
    # per test process so parallel runs never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str("SQLITE_TEST_PATH", default="")
        or str(Path(tempfile.gettempdir()) / f"votemap-test-{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # A database that does not answer (a black hole, a paused server) must fail
    # a call within seconds, not hold the database thread for the kernel's
    # TCP timeouts (minutes): libpq gives up connecting after connect_timeout
    # and drops a connection whose sent data stays unacknowledged for
    # tcp_user_timeout. The vote map answers `internal` meanwhile and the
    # client retries with the same vote_id (docs/deployment.md, "Faults").
    DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", default=3)
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT)
    DATABASES["default"]["OPTIONS"].setdefault("tcp_user_timeout", DATABASE_CONNECT_TIMEOUT * 2000)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sessions ------------------------------------------------------------
# Signed-cookie sessions would put identity in a payload the client holds;
# database sessions keep it on the server and work across workers.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 24 * 30)
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True

# --- Internationalisation -----------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# A file missing from the manifest (for example a bundle built after the last
# collectstatic) falls back to its plain name instead of raising a 500.
WHITENOISE_MANIFEST_STRICT = False

# --- Security -----------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Behind a TLS proxy with SECURE_SSL_REDIRECT on, a balancer's health check
# still reaches a worker over plain HTTP on its own port.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Metrics ------------------------------------------------------------
# /metrics answers logged-in staff, and `Authorization: Bearer <this>` (a
# Prometheus scraper). Empty: no token is accepted, staff only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Realtime (Socket.IO) -----------------------------------------------
# Empty list: only the site's own origin (Origin equal to the request's scheme
# and Host, with the Host in ALLOWED_HOSTS). Requests without Origin (scripts,
# load tests) are accepted, as the protocol says.
SOCKETIO_ALLOWED_ORIGINS = _env_list("SOCKETIO_ALLOWED_ORIGINS", [])
# Engine.IO drops any packet larger than this (bytes).
SOCKETIO_MAX_HTTP_BUFFER_SIZE = env.int("SOCKETIO_MAX_HTTP_BUFFER_SIZE", default=16 * 1024)
SOCKETIO_PING_INTERVAL = env.int("SOCKETIO_PING_INTERVAL", default=25)
SOCKETIO_PING_TIMEOUT = env.int("SOCKETIO_PING_TIMEOUT", default=20)
# Transports the server accepts and the browser uses. Several workers behind a
# non-sticky balancer need "websocket" alone (a polling session must always
# reach the worker that created it).
SOCKETIO_TRANSPORTS = _env_list("SOCKETIO_TRANSPORTS", ["websocket", "polling"])
if not set(SOCKETIO_TRANSPORTS) <= {"websocket", "polling"} or not SOCKETIO_TRANSPORTS:
    raise ImproperlyConfigured("SOCKETIO_TRANSPORTS takes websocket and/or polling")
# Namespaces served on a Socket.IO path of their own, so that a proxy can route
# them apart (for example the game to some workers only; every worker can serve
# any arena, docs/deployment.md). Empty: everything on /socket.io/.
GAME_SOCKETIO_PATH = env.str("GAME_SOCKETIO_PATH", default="").strip("/")
SOCKETIO_NAMESPACE_PATHS = {"/grid-game": GAME_SOCKETIO_PATH} if GAME_SOCKETIO_PATH else {}
# How broadcasts reach this process's clients (votemap_site/realtime/broadcast.py):
# direct (pre-built WebSocket frames; falls back to loop with untested library
# versions or on any error), loop (python-socketio's and engine.io's public API
# in one task-free loop) or stock (python-socketio's managers unchanged).
SOCKETIO_BROADCAST_PATH = env.str("SOCKETIO_BROADCAST_PATH", default="direct")
if SOCKETIO_BROADCAST_PATH not in {"direct", "loop", "stock"}:
    raise ImproperlyConfigured("SOCKETIO_BROADCAST_PATH takes direct, loop or stock")
# Addresses whose X-Forwarded-For / X-Forwarded-Proto uvicorn trusts (the
# proxy in front of the site; `python -m votemap_site.serve` passes it on).
FORWARDED_ALLOW_IPS = env.str("FORWARDED_ALLOW_IPS", default="127.0.0.1")
# Redis carries the cross-worker fan-out and the shared counters when set.
REDIS_URL = env.str("REDIS_URL", default="")
# RabbitMQ (amqp://...) carries the fan-out instead when set; the shared
# counters and the map's commit-order lock then live in Redis if REDIS_URL is
# set too, else in PostgreSQL (docs/deployment.md).
MESSAGE_QUEUE_URL = env.str("MESSAGE_QUEUE_URL", default="")
if MESSAGE_QUEUE_URL and not MESSAGE_QUEUE_URL.startswith(("amqp://", "amqps://")):
    raise ImproperlyConfigured("MESSAGE_QUEUE_URL takes an amqp:// or amqps:// URL (RabbitMQ); "
                               "for Redis set REDIS_URL")
if MESSAGE_QUEUE_URL and DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    raise ImproperlyConfigured("MESSAGE_QUEUE_URL is for several processes, which need PostgreSQL "
                               "(DATABASE_URL=postgres://...), not SQLite")
# Channel of the Socket.IO fan-out (the Redis pub/sub channel, or the RabbitMQ
# exchange): sites sharing one Redis or RabbitMQ need their own.
SOCKETIO_REDIS_CHANNEL = env.str("SOCKETIO_REDIS_CHANNEL", default="votemap-socketio")
# Prefix of every Redis key the site writes (presence, locks).
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="vm:")
# Rate-limit escalation: an Engine.IO connection refused (or sending malformed
# packets) this many times within RATE_LIMIT_FLOOD_WINDOW seconds is closed, whole.
RATE_LIMIT_FLOOD_STRIKES = env.int("RATE_LIMIT_FLOOD_STRIKES", default=50)
RATE_LIMIT_FLOOD_WINDOW = env.float("RATE_LIMIT_FLOOD_WINDOW", default=10.0)
# The edge (votemap_site/realtime/edge.py; numbers and reasons in .env.example).
# New Engine.IO connections per second from one address without a session
# cookie (0: no ceiling). Browsers with a session are never limited by address.
SOCKETIO_MAX_NEW_CONNECTIONS_PER_ADDRESS = env.float("SOCKETIO_MAX_NEW_CONNECTIONS_PER_ADDRESS", default=50.0)
# Cookie-less connections from one address share one event bucket this many
# times a connection's (0: each connection has only its own).
RATE_LIMIT_ADDRESS_MULTIPLIER = env.float("RATE_LIMIT_ADDRESS_MULTIPLIER", default=10.0)
# Namespace CONNECT packets per Engine.IO connection.
SOCKETIO_NAMESPACE_CONNECT_RATE = env.float("SOCKETIO_NAMESPACE_CONNECT_RATE", default=1.0)
SOCKETIO_NAMESPACE_CONNECT_BURST = env.int("SOCKETIO_NAMESPACE_CONNECT_BURST", default=8)
# An Engine.IO connection with no namespace for this long is closed.
SOCKETIO_NAMESPACE_JOIN_TIMEOUT = env.float("SOCKETIO_NAMESPACE_JOIN_TIMEOUT", default=5.0)
# Outgoing data waiting for one connection: over either cap, or not drained for
# SOCKETIO_SEND_STALL_SECONDS (WebSocket; long-polling: the ping timeout), the
# connection is aborted.
SOCKETIO_MAX_QUEUED_PACKETS = env.int("SOCKETIO_MAX_QUEUED_PACKETS", default=512)
SOCKETIO_MAX_QUEUED_BYTES = env.int("SOCKETIO_MAX_QUEUED_BYTES", default=256 * 1024)
SOCKETIO_SEND_STALL_SECONDS = env.float("SOCKETIO_SEND_STALL_SECONDS", default=5.0)
# How often a worker publishes its connection counts to the other workers.
PRESENCE_HEARTBEAT_SECONDS = env.float("PRESENCE_HEARTBEAT_SECONDS", default=5.0)
# Faults (docs/deployment.md, "Faults"; reasons for the numbers in .env.example).
# One publish to Redis or RabbitMQ, connecting included, gives up after this long.
SOCKETIO_QUEUE_TIMEOUT_SECONDS = env.float("SOCKETIO_QUEUE_TIMEOUT_SECONDS", default=0.5)
# One call to the shared state (presence counts, the map's commit-order lock;
# Redis, or PostgreSQL without Redis) gives up after this long.
SOCKETIO_SHARED_TIMEOUT_SECONDS = env.float("SOCKETIO_SHARED_TIMEOUT_SECONDS", default=0.25)
# Circuit breakers in front of both (votemap_site/realtime/breaker.py): this many
# failures in a row open one; one trial call goes through after this long.
SOCKETIO_BREAKER_FAILURES = env.int("SOCKETIO_BREAKER_FAILURES", default=3)
SOCKETIO_BREAKER_RESET_SECONDS = env.float("SOCKETIO_BREAKER_RESET_SECONDS", default=2.0)

# --- Logging ------------------------------------------------------------
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")
# text: one readable line per record; json: one JSON object per line (for a
# log collector), with the same fields under fixed names.
LOG_FORMAT = env.str("LOG_FORMAT", default="text").lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT takes text or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "votemap_site": {"level": LOG_LEVEL},
        "dashboard": {"level": LOG_LEVEL},
        "chat": {"level": LOG_LEVEL},
        "grid_game": {"level": LOG_LEVEL},
    },
}

# Namespaces of the one Socket.IO server: (path, dotted class). Each app's
# namespace lives in its own sockets.py.
SOCKETIO_NAMESPACES = [
    ("/lobby", "votemap_site.realtime.lobby.LobbyNamespace"),
    ("/map-dashboard", "dashboard.sockets.MapDashboardNamespace"),
    ("/chat", "chat.sockets.ChatNamespace"),
    ("/grid-game", "grid_game.sockets.GridGameNamespace"),
]
RATE_LIMIT_SESSION_MULTIPLIER = env.float("RATE_LIMIT_SESSION_MULTIPLIER", default=3.0)
LOBBY_STATS_INTERVAL = env.float("LOBBY_STATS_INTERVAL", default=1.0)

# --- dashboard (vote map) -----------------------------------------------
DASHBOARD_TICK_MS = env.int("DASHBOARD_TICK_MS", default=50)
# The tick grows with a worker's connections once a delta's fan-out (about this
# many µs per connection) would take longer than DASHBOARD_TICK_MS, up to
# DASHBOARD_TICK_MAX_MS (dashboard/audience.py; docs/protocol.md).
DASHBOARD_TICK_PER_CONNECTION_US = env.float("DASHBOARD_TICK_PER_CONNECTION_US", default=12.0)
DASHBOARD_TICK_MAX_MS = env.int("DASHBOARD_TICK_MAX_MS", default=150)
# A changed viewer count is pushed at most this often (at once after a quiet spell).
DASHBOARD_VIEWERS_INTERVAL_MS = env.int("DASHBOARD_VIEWERS_INTERVAL_MS", default=1000)
# New connections per second on one worker from which the tick is DASHBOARD_TICK_MAX_MS
# (dashboard/audience.py tick_during_joins; 0 turns it off).
DASHBOARD_JOIN_STORM_PER_SECOND = env.float("DASHBOARD_JOIN_STORM_PER_SECOND", default=20.0)
DASHBOARD_VOTE_RATE = env.float("DASHBOARD_VOTE_RATE", default=10.0)
DASHBOARD_VOTE_BURST = env.int("DASHBOARD_VOTE_BURST", default=20)
# Votes waiting for their group commit, at most; beyond it `vote` answers
# `rate_limited` with `retry_after` (the database is not keeping up).
DASHBOARD_MAX_PENDING_VOTES = env.int("DASHBOARD_MAX_PENDING_VOTES", default=10_000)
# Address the audience uses to reach the site (the presenter view's QR code);
# empty: built from the request, e.g. https://vote.example.org
DASHBOARD_PUBLIC_URL = env.str("DASHBOARD_PUBLIC_URL", default="")

# --- chat ---------------------------------------------------------------
CHAT_MESSAGE_RATE = env.float("CHAT_MESSAGE_RATE", default=3.0)
CHAT_MESSAGE_BURST = env.int("CHAT_MESSAGE_BURST", default=5)
# Group commit: messages arriving within one tick are stored in one transaction
# (acked after it commits, then broadcast); the first after a quiet spell goes at once.
CHAT_TICK_MS = env.int("CHAT_TICK_MS", default=10)
# The tick grows with the members (over all workers) of the rooms of the last batch
# once its fan-out (about this many µs per member) would take longer than
# CHAT_TICK_MS, up to CHAT_TICK_MAX_MS (votemap_site/realtime/fanout.py; docs/protocol.md).
CHAT_TICK_PER_MEMBER_US = env.float("CHAT_TICK_PER_MEMBER_US", default=25.0)
CHAT_TICK_MAX_MS = env.int("CHAT_TICK_MAX_MS", default=50)
CHAT_TRENDING_WINDOW_SECONDS = env.int("CHAT_TRENDING_WINDOW_SECONDS", default=600)
# A word trends only when this many distinct senders (browser sessions) used it.
CHAT_TRENDING_MIN_SENDERS = env.int("CHAT_TRENDING_MIN_SENDERS", default=2)
# Distinct words a room's trending window keeps (per worker).
CHAT_TRENDING_MAX_TOKENS = env.int("CHAT_TRENDING_MAX_TOKENS", default=5000)
# Rooms one connection may be in at once.
CHAT_MAX_ROOMS_PER_CONNECTION = env.int("CHAT_MAX_ROOMS_PER_CONNECTION", default=20)

# --- grid game ----------------------------------------------------------
GAME_TICK_HZ = env.float("GAME_TICK_HZ", default=20.0)
GAME_MOVE_RATE = env.float("GAME_MOVE_RATE", default=15.0)
GAME_MOVE_BURST = env.int("GAME_MOVE_BURST", default=20)
GAME_SEAT_GRACE_SECONDS = env.float("GAME_SEAT_GRACE_SECONDS", default=30.0)
GAME_IDLE_SECONDS = env.float("GAME_IDLE_SECONDS", default=300.0)
# Seats per arena that connections without a Django session (scripts, not
# browsers) may hold; beyond it they can only watch. See .env.example for why 4.
GAME_ANONYMOUS_SEATS = env.int("GAME_ANONYMOUS_SEATS", default=4)
if GAME_ANONYMOUS_SEATS < 0:
    raise ImproperlyConfigured("GAME_ANONYMOUS_SEATS must be 0 or more")
# How often running arenas pick up admin changes (open/closed, max players):
# the period of the game's watcher (votemap_site/realtime/watcher.py).
GAME_CONFIG_POLL_SECONDS = env.float("GAME_CONFIG_POLL_SECONDS", default=1.0)
# Empty: coins and start cells from fresh randomness; any text replays them.
GAME_RNG_SEED = env.str("GAME_RNG_SEED", default="")
# Several processes (a queue configured): each arena has one authority, the
# holder of its lease (grid_game/cluster.py, docs/deployment.md). The lease
# lives this long and is renewed three times within it: a dead owner's arenas
# are taken over within about that time plus a second.
GAME_LEASE_SECONDS = env.float("GAME_LEASE_SECONDS", default=3.0)
# How often the owner stores a changed arena's checkpoint (what a takeover restores).
GAME_CHECKPOINT_SECONDS = env.float("GAME_CHECKPOINT_SECONDS", default=1.0)
# An owner drops the players of a process it has not heard from for this long
# (no ghost players of a dead process); processes heartbeat three times within it.
GAME_PEER_TIMEOUT_SECONDS = env.float("GAME_PEER_TIMEOUT_SECONDS", default=3.0)
# A forwarded join or move without the owner's answer within this long gets `internal` with retry_after.
GAME_FORWARD_TIMEOUT_SECONDS = env.float("GAME_FORWARD_TIMEOUT_SECONDS", default=1.5)
for _name in ("GAME_LEASE_SECONDS", "GAME_CHECKPOINT_SECONDS", "GAME_PEER_TIMEOUT_SECONDS",
              "GAME_FORWARD_TIMEOUT_SECONDS"):
    if globals()[_name] <= 0:
        raise ImproperlyConfigured(f"{_name} must be positive")
