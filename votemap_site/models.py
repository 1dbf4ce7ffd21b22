"""Shared realtime state kept in PostgreSQL when no Redis is configured.

With MESSAGE_QUEUE_URL (RabbitMQ) and no REDIS_URL, the connection counts
that Redis would hold live here (votemap_site/realtime/presence.py,
PostgresPresence). The realtime code reads and writes this table with plain
SQL on a connection of its own, not through the ORM; the model exists so that
migrations create it like every other table.
"""

from django.db import models


class PresenceCount(models.Model):
    """How many connections one worker process has for one presence key."""

    worker = models.CharField(max_length=32)
    key = models.TextField()
    count = models.PositiveIntegerField(default=0)
    # The worker's last heartbeat (database time, so hosts' clocks never matter):
    # a worker that stopped beating stops counting after three heartbeats.
    beat = models.DateTimeField()

    class Meta:
        db_table = "realtime_presence"
        constraints = [models.UniqueConstraint(fields=["worker", "key"], name="realtime_presence_worker_key")]
        indexes = [models.Index(fields=["key"], name="realtime_presence_key")]

    def __str__(self) -> str:
        return f"{self.key}: {self.count} on {self.worker}"
