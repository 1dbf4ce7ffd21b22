"""Checks behind /healthz: the database, and the message queue when configured."""

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
    if not settings.REDIS_URL:
        return None
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
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
    return {
        "broadcast": server.broadcast_status(),
        "edge": {"connections": len(server.sio.edge.connections), "closed_by_edge": server.sio.edge.aborted},
    }
