"""Shared realtime state kept in PostgreSQL when no Redis is configured.

With MESSAGE_QUEUE_URL (RabbitMQ) and no REDIS_URL, the connection counts
that Redis would hold live here (votemap_site/realtime/presence.py,
PostgresPresence), and so do the grid game's arena leases and checkpoints
(votemap_site/realtime/lease.py). The realtime code reads and writes these tables with plain
SQL on a connection of its own, not through the ORM; the model exists so that
migrations create them like every other table.
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


class Lease(models.Model):
    """A named lease held by one process at a time, with a blob only its owner
    writes (votemap_site/realtime/lease.py): the grid game's arena authority and
    checkpoint with RabbitMQ and no Redis. Read and written with plain SQL."""

    name = models.TextField(primary_key=True)
    # The holder's process id; empty once released.
    owner = models.TextField()
    # Database time: a lease nobody renewed by then is free.
    expires_at = models.DateTimeField()
    data = models.BinaryField(null=True)
    saved_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "realtime_lease"

    def __str__(self) -> str:
        return f"{self.name}: {self.owner or 'free'}"
