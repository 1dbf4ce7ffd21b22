"""`python -m votemap_site.serve`: uvicorn with the site's flags.

The one way the site is started (`make run`, `make run-workers`, the test
suite's server processes, the systemd unit in docs/deployment.md), so that the
flags that protect it cannot drift apart:

- `ws_max_size` equals Engine.IO's packet limit (SOCKETIO_MAX_HTTP_BUFFER_SIZE):
  uvicorn's default (16 MiB) would read a 15 MiB WebSocket message whole
  before Engine.IO refuses it; with this, uvicorn closes the connection
  (code 1009) after reading at most the limit;
- the sans-I/O WebSocket implementation without permessage-deflate, which the
  broadcast path writes pre-built frames to (votemap_site/realtime/broadcast.py);
- uvicorn's WebSocket keepalive left on (a ping every 20 s, closed after 20 s
  without its pong): unlike Engine.IO's heartbeat, whose PONG a client can
  send blind, a WebSocket pong must echo the ping's random payload, so only a
  client that reads gets through. It is what closes a client that never reads
  while the kernel's socket buffers (megabytes on loopback) still absorb what
  it is sent, before the edge's send queue ever fills;
- lifespan on (the realtime server's start-up and shutdown), a short graceful
  shutdown, no access log (one line per request is too much for a crowd);
- proxy headers trusted only from FORWARDED_ALLOW_IPS (default 127.0.0.1, a
  proxy on the same host), so that the per-address limits see the client's
  address behind nginx and a client cannot choose its own;
- a listen backlog of LISTEN_BACKLOG (uvicorn's default is 2,048; the kernel
  caps it at net.core.somaxconn), so a room connecting at once is queued by
  the kernel rather than refused;
- the soft limit of open files raised to the hard limit (`raise_open_file_limit`):
  every connection is a file, and the usual soft limit of 1,024 would refuse
  connections long before the process runs out of anything else;
- with LOG_FORMAT=json, uvicorn's own lines (start-up, errors) in the same
  JSON format as the site's (settings.LOGGING).

Metrics of several processes (votemap_site/metrics.py) need
PROMETHEUS_MULTIPROC_DIR in the environment before the process starts:
`make run-workers`, `make cluster` and the systemd unit set it.
"""

import argparse
import os
import resource
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "votemap_site.settings")

APP = "votemap_site.asgi:application"
LISTEN_BACKLOG = 4096


def raise_open_file_limit() -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; (soft, hard) after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):  # a container may refuse: run with what we have
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config`, from the settings."""
    from django.conf import settings

    return {
        "ws": "websockets-sansio",
        "ws_max_size": settings.SOCKETIO_MAX_HTTP_BUFFER_SIZE,
        "ws_per_message_deflate": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 5,
        "backlog": LISTEN_BACKLOG,
        "access_log": False,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.FORWARDED_ALLOW_IPS,
        **({"log_config": uvicorn_json_log_config()} if settings.LOG_FORMAT == "json" else {}),
    }


def uvicorn_json_log_config() -> dict[str, Any]:
    """uvicorn's loggers with the site's JSON formatter, on stderr like uvicorn's default."""
    from django.conf import settings

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": settings.LOGGING["formatters"]["json"]},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json",
                              "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["json"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["json"], "level": "INFO", "propagate": False},
        },
    }


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m votemap_site.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    raise_open_file_limit()
    uvicorn.run(APP, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level,
                **uvicorn_options())


if __name__ == "__main__":
    main()
