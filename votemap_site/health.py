"""Checks behind /healthz: the database, and the message queue when configured."""

import asyncio

import redis
from django.conf import settings
from django.db import connection


def check_database() -> str | None:
    """None when healthy, else a short reason."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means unhealthy
        return f"{type(exc).__name__}"
    return None


def check_message_queue() -> str | None:
    """The queue that carries the fan-out (RabbitMQ or Redis), and Redis too when
    it holds the shared counts beside RabbitMQ. None when healthy or not configured."""
    if settings.MESSAGE_QUEUE_URL:
        failure = _check_amqp(settings.MESSAGE_QUEUE_URL)
        if failure is not None:
            return failure
    if settings.REDIS_URL:
        return _check_redis(settings.REDIS_URL)
    return None


def _check_redis(url: str) -> str | None:
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"{type(exc).__name__}"
    return None


def _check_amqp(url: str) -> str | None:
    """Open and close one AMQP connection (what the manager's publisher and
    listener need), within 2 s. Runs in the view's worker thread, which has no
    event loop of its own."""
    import aio_pika

    async def probe() -> None:
        connection = await aio_pika.connect(url, timeout=2)
        await connection.close()

    try:
        asyncio.run(asyncio.wait_for(probe(), 3))
    except Exception as exc:
        return f"{type(exc).__name__}"
    return None


def realtime_status() -> dict[str, object] | None:
    """The realtime server of this process (broadcast path, edge), or None when none runs here."""
    from votemap_site.realtime.server import current

    try:
        server = current()
    except RuntimeError:
        return None
    status: dict[str, object] = {
        "broadcast": server.broadcast_status(),
        "edge": {"connections": len(server.sio.edge.connections), "closed_by_edge": server.sio.edge.aborted},
        # Circuit breakers in front of the message queue and the shared state
        # (docs/deployment.md, "Faults"); an open one does not make /healthz fail:
        # the process still serves its own clients.
        "faults": server.faults_status(),
    }
    # Several processes: which game arenas this one holds (grid_game/cluster.py).
    game = next((n for n in server.namespaces if n.namespace == "/grid-game"), None)
    cluster = getattr(game, "cluster", None)
    if cluster is not None:
        status["game"] = cluster.status()
    return status
