"""How the benchmark runners start the site: this checkout's, or another checkout's.

Every runner (bench/dashboard/run.py, bench/chat/run.py, bench/grid_game/run.py)
can put the site of another checkout (`--base-root /path/to/old/checkout`,
kind `site-base`) next to this checkout's (`site`) and interleave them point
by point, so that a change is measured as a ratio against the code before it
under the same background load. Both run in the same virtualenv; a `-base`
kind's server runs with cwd and PYTHONPATH set to the other checkout, and its
migrations are that checkout's.

Both get the same uvicorn flags: this checkout's site starts through
`python -m votemap_site.serve` (the one way the site is started); an
application other than the site's own (an instrumented copy, the stock
manager) and an older checkout without serve.py get the same flags
explicitly (UVICORN_FLAGS, the defaults of votemap_site/serve.py).

BENCH_ENV lifts the edge's per-address limits: a generator's thousands of
clients all come from 127.0.0.1 without a session cookie, which a real
audience does not (browsers have sessions, phones have addresses of their
own), so the limits would throttle the generator, not measure the server.
tests/core/test_edge.py exercises those limits; bench/hostile.py measures
what attacks cost a well-behaved client.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE_APP = "votemap_site.asgi:application"

# Only the two address limits are lifted; every other edge limit (per
# connection, per session, send queues, stall detection) stays at its default.
BENCH_ENV = {
    "SOCKETIO_MAX_NEW_CONNECTIONS_PER_ADDRESS": "0",
    "RATE_LIMIT_ADDRESS_MULTIPLIER": "0",
    # Settings come from the environment the runner builds, never from a
    # checkout's .env (two checkouts would read two different files).
    "DJANGO_ENV_FILE": "",
}

# votemap_site/serve.py's uvicorn_options() with the default settings
# (SOCKETIO_MAX_HTTP_BUFFER_SIZE 16 KiB, FORWARDED_ALLOW_IPS 127.0.0.1, LISTEN_BACKLOG).
UVICORN_FLAGS = [
    "--ws", "websockets-sansio", "--ws-max-size", str(16 * 1024), "--ws-per-message-deflate", "false",
    "--lifespan", "on", "--timeout-graceful-shutdown", "5", "--backlog", "4096", "--no-access-log",
    "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1",
]


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-root", type=Path, default=None,
        help="another checkout of the project (e.g. the previous main): its site runs as kind `site-base`",
    )


def is_base(kind: str) -> bool:
    """`site-base`, `site-base@100`: the site of the other checkout."""
    return kind.partition("@")[0].endswith("-base")


def plain(kind: str) -> str:
    """The kind without its checkout: `site-base@100` -> `site@100`."""
    head, at, tail = kind.partition("@")
    return head.removesuffix("-base") + at + tail


def root_for(kind: str, base_root: Path | None) -> Path:
    if not is_base(kind):
        return ROOT
    if base_root is None:
        raise SystemExit(f"server kind {kind!r} needs --base-root (another checkout of the project)")
    root = Path(base_root).resolve()
    if not (root / "manage.py").is_file():
        raise SystemExit(f"--base-root {root} is not a checkout of the project (no manage.py)")
    return root


def env_for(kind: str, base_root: Path | None, env: dict[str, str], *,
            lift_address_limits: bool = True) -> dict[str, str]:
    """`env` plus the bench settings and the checkout's code on PYTHONPATH
    (bench/hostile.py keeps the address limits: they are what it measures)."""
    bench = BENCH_ENV if lift_address_limits else {"DJANGO_ENV_FILE": BENCH_ENV["DJANGO_ENV_FILE"]}
    return {**env, **bench, "PYTHONPATH": str(root_for(kind, base_root))}


def server_command(kind: str, base_root: Path | None, *, port: int, app: str = SITE_APP,
                   log_level: str = "warning", python: str = sys.executable) -> tuple[list[str], Path]:
    """The command line and working directory of one site server process."""
    root = root_for(kind, base_root)
    if app == SITE_APP and not is_base(kind):
        cmd = [python, "-m", "votemap_site.serve", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", log_level]
    else:
        cmd = [python, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
               "--log-level", log_level, *UVICORN_FLAGS]
    return cmd, root


def manage_command(kind: str, base_root: Path | None, *args: str,
                   python: str = sys.executable) -> tuple[list[str], Path]:
    """`manage.py <args>` of the kind's checkout (its migrations, its models)."""
    root = root_for(kind, base_root)
    return [python, "manage.py", *args], root
