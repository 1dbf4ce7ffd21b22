"""The site's Prometheus metrics (prometheus-client), one definition each.

Code that counts something imports the metric from here and calls the
prometheus-client API on it (`.inc()`, `.observe()`, `.set()`); nothing else
defines metrics, so names, labels and help texts stay in one place.

Several processes: when PROMETHEUS_MULTIPROC_DIR is set in the environment
before this module is imported (`make cluster`, `run-workers` and the
systemd unit set it), prometheus-client writes each process's values to
files in that folder and `/metrics` adds them up (votemap_site/views.py).
Gauges say how: `livesum` adds the values of the processes still running
(a dead process's connections are not counted), `liveall` keeps one series
per running process (pid label), for states that must not be summed.

The folder is shared by the processes of one host and must start empty for
each run of the site (`make run-workers` and `make cluster` make a fresh one,
the systemd unit uses /run, emptied at boot). A process that stops cleanly
removes its live gauges (`process_stopping`, in the ASGI lifespan's
shutdown); one that was killed is found at the next scrape (`scrape`: its
pid no longer runs) and removed then. Its counters and histograms stay: they are totals of work done.
Without the variable (one process), the default registry is used as it is.
"""

from __future__ import annotations

import atexit
import os
import re

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def process_stopping() -> None:
    """This process's connections, arenas and breaker states stop counting
    (multiprocess mode; its counters stay). Called by the ASGI lifespan's
    shutdown, because uvicorn ends a process stopped by SIGTERM with that
    signal again, and exit handlers do not run then; also at exit."""
    if MULTIPROCESS_DIR:
        multiprocess.mark_process_dead(os.getpid(), MULTIPROCESS_DIR)


if MULTIPROCESS_DIR:
    os.makedirs(MULTIPROCESS_DIR, exist_ok=True)
    # A pid can be reused: the live gauges a killed process of the same pid
    # left would otherwise become this process's starting values (gauge files
    # are opened, and their values read, when the metrics below are created).
    process_stopping()
    atexit.register(process_stopping)

# Acks are usually a few milliseconds; a group commit waits up to one tick
# (50 ms by default) and a slow database for seconds.
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TICK_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)

CONNECTIONS = Gauge(
    "votemap_connections", "Socket.IO connections per namespace, over all running processes.",
    ["namespace"], multiprocess_mode="livesum",
)
EVENTS = Counter(
    "votemap_events", "Client events handled, by namespace, event and result ('ok' or the error code).",
    ["namespace", "event", "result"],
)
ACK_SECONDS = Histogram(
    "votemap_ack_seconds", "Time from an event's arrival to its ack, by namespace and event.",
    ["namespace", "event"], buckets=ACK_BUCKETS,
)
TICK_SECONDS = Histogram(
    "votemap_tick_seconds", "Duration of one run of a periodic task (a Ticker), by its name.",
    ["ticker"], buckets=TICK_BUCKETS,
)
COMMIT_BATCH_SIZE = Histogram(
    "votemap_map_commit_batch_size", "Votes committed by one group-commit transaction.",
    buckets=BATCH_BUCKETS,
)
QUEUE_PUBLISH_FAILURES = Counter(
    "votemap_queue_publish_failures", "Messages that could not be handed to the message queue.",
    ["channel"],
)
QUEUE_BREAKER_OPEN = Gauge(
    "votemap_queue_breaker_open",
    "1 while the circuit breaker in front of the message queue is open (publishes skipped), else 0.",
    ["channel"], multiprocess_mode="liveall",
)
ARENAS_OWNED = Gauge(
    "votemap_game_arenas_owned", "Game arenas whose authority (lease) a process holds.",
    multiprocess_mode="liveall",
)
ARENA_TAKEOVERS = Counter(
    "votemap_game_arena_takeovers", "Arenas this process took over after their previous owner's lease expired.",
)


# ----- the scrape ------------------------------------------------------------
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # runs, as another user
        return True
    return True


def forget_dead_processes(path: str) -> list[int]:
    """Remove the live gauges of processes in `path` that no longer run (killed,
    so their exit handler never ran); the pids removed. Same host only: a pid
    names a process of this machine, which is why the folder is per host."""
    dead = set()
    for name in os.listdir(path):
        match = _LIVE_GAUGE_FILE.match(name)
        if match and int(match.group(1)) != os.getpid() and not _running(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        multiprocess.mark_process_dead(pid, path)
    return sorted(dead)


def scrape() -> tuple[bytes, str]:
    """The text exposition of every metric (of every process of this host in
    multiprocess mode) and its content type, for the /metrics view."""
    if not MULTIPROCESS_DIR:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    forget_dead_processes(MULTIPROCESS_DIR)
    # A fresh registry per scrape, as prometheus-client's documentation says:
    # the collector reads the files at collect time.
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=MULTIPROCESS_DIR)
    return generate_latest(registry), CONTENT_TYPE_LATEST
