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
