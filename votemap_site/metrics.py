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
"""

from prometheus_client import Counter, Gauge, Histogram

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
