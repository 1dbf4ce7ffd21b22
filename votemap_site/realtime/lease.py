"""Leases: at most one process at a time holds a named lease, for a few seconds.

The grid game uses one lease per arena (grid_game/cluster.py): the process
that holds `game-arena:<slug>` is that arena's only authority. A lease has an
owner (a process id) and a time to live; the owner renews it well within the
TTL, and releases it when it stops, so another process can take it at once.
A process that dies stops renewing and its lease expires after the TTL.

Next to each lease the store keeps a small blob that only the lease's current
owner may write and anyone may read (the arena's checkpoint). It outlives the
lease: the next owner reads what the previous one wrote.

Where leases live follows `shared_state_backend()` (shared.py):

- Redis (REDIS_URL): the key `<prefix>lease:<name>` holds the owner, with the
  TTL as the key's expiry (`SET NX PX`); renew, release and the owner-only
  blob write are small Lua scripts that compare the owner first, so a process
  never extends or deletes a lease someone else took. The blob is the key
  `<prefix>lease-data:<name>` (expires after a day without writes).
- PostgreSQL (RabbitMQ without Redis): the table `realtime_lease`
  (votemap_site/models.py), one row per name with the owner, `expires_at` in
  the database's clock (hosts' clocks never matter) and the blob. Taking is one
  `INSERT .. ON CONFLICT DO UPDATE .. WHERE expired OR owner = me RETURNING`,
  on a connection of its own with shared.py's short timeouts.

Both give the same guarantees, checked by tests/core/test_lease.py: one owner
at a time, renew only by the owner, expiry after the TTL, release only by the
owner, and a lease whose owner renews after it expired (nobody took it in
between) is the owner's again.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from django.conf import settings

from .shared import PostgresConnection, postgres_conninfo, redis_client, shared_state_backend

log = logging.getLogger("votemap_site.realtime")

# A checkpoint nobody wrote for this long is dropped (Redis key expiry).
DATA_KEEP_SECONDS = 24 * 3600


class LeaseStore(Protocol):
    async def claim(self, name: str, *, owner: str, ttl: float) -> str | None:
        """Take the lease if it is free or already ours (renewing it); the owner
        after the call (`owner` when we hold it), None if nobody could be read."""
        ...

    async def renew(self, names: list[str], *, owner: str, ttl: float) -> set[str]:
        """Extend the leases of `names` that `owner` still holds; those names."""
        ...

    async def release(self, names: list[str], *, owner: str) -> None:
        """Give up the leases of `names` that `owner` holds (others are untouched)."""
        ...

    async def owner(self, name: str) -> str | None:
        """The current holder, None when the lease is free."""
        ...

    async def save(self, name: str, data: bytes, *, owner: str) -> bool:
        """Store the blob of `name` if `owner` holds the lease; whether it did."""
        ...

    async def load(self, name: str) -> bytes | None:
        """The blob last stored for `name`, if any."""
        ...

    async def close(self) -> None: ...


# KEYS[1] the lease; ARGV[1] owner, ARGV[2] ttl in ms. Returns the owner after the call.
_CLAIM = """
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return current
"""
# KEYS the leases; ARGV[1] owner, ARGV[2] ttl in ms. Returns 1/0 per key.
# A key that expired (nobody took it since) is ours again: SET NX.
_RENEW = """
local held = {}
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if current == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    held[i] = 1
  elseif not current then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    held[i] = 1
  else
    held[i] = 0
  end
end
return held
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
"""
# KEYS[1] the lease, KEYS[2] its blob; ARGV[1] owner, ARGV[2] data, ARGV[3] keep ms.
_SAVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisLeaseStore:
    def __init__(self, redis_url: str, *, prefix: str, timeout: float = 1.0) -> None:
        # Short timeouts and no redis-py retries: a lease call that hangs must
        # not hold an arena's renewals (or a player's join) for longer than a
        # lease lives.
        self._redis = redis_client(redis_url, timeout=timeout)
        self._prefix = prefix
        self._claim = self._redis.register_script(_CLAIM)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)
        self._save = self._redis.register_script(_SAVE)

    def _key(self, name: str) -> str:
        return f"{self._prefix}lease:{name}"

    def _data_key(self, name: str) -> str:
        return f"{self._prefix}lease-data:{name}"

    async def claim(self, name: str, *, owner: str, ttl: float) -> str | None:
        result = await self._claim(keys=[self._key(name)], args=[owner, _ms(ttl)])
        return _text(result)

    async def renew(self, names: list[str], *, owner: str, ttl: float) -> set[str]:
        if not names:
            return set()
        held = await self._renew(keys=[self._key(n) for n in names], args=[owner, _ms(ttl)])
        return {name for name, flag in zip(names, held, strict=True) if int(flag)}

    async def release(self, names: list[str], *, owner: str) -> None:
        if names:
            await self._release(keys=[self._key(n) for n in names], args=[owner])

    async def owner(self, name: str) -> str | None:
        return _text(await self._redis.get(self._key(name)))

    async def save(self, name: str, data: bytes, *, owner: str) -> bool:
        done = await self._save(keys=[self._key(name), self._data_key(name)],
                                args=[owner, data, _ms(DATA_KEEP_SECONDS)])
        return bool(int(done))

    async def load(self, name: str) -> bytes | None:
        value = await self._redis.get(self._data_key(name))
        return bytes(value) if value is not None else None

    async def close(self) -> None:
        await self._redis.aclose()


class PostgresLeaseStore:
    """Leases in the `realtime_lease` table, in the database's clock."""

    def __init__(self, conninfo: str) -> None:
        self._db = PostgresConnection(conninfo)

    async def claim(self, name: str, *, owner: str, ttl: float) -> str | None:
        rows = await self._db.execute(
            "INSERT INTO realtime_lease (name, owner, expires_at)"
            " VALUES (%s, %s, now() + make_interval(secs => %s))"
            " ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at"
            " WHERE realtime_lease.expires_at < now() OR realtime_lease.owner = EXCLUDED.owner"
            " RETURNING owner",
            [name, owner, ttl],
        )
        if rows:
            return str(rows[0][0])
        return await self.owner(name)

    async def renew(self, names: list[str], *, owner: str, ttl: float) -> set[str]:
        if not names:
            return set()
        # Still ours even if it expired meanwhile: a claim by anyone else would
        # have changed the owner.
        rows = await self._db.execute(
            "UPDATE realtime_lease SET expires_at = now() + make_interval(secs => %s)"
            " WHERE name = ANY(%s::text[]) AND owner = %s RETURNING name",
            [ttl, names, owner],
        )
        return {str(row[0]) for row in rows}

    async def release(self, names: list[str], *, owner: str) -> None:
        if names:
            # The row stays: its blob is for the next owner.
            await self._db.execute(
                "UPDATE realtime_lease SET owner = '', expires_at = now() - interval '1 second'"
                " WHERE name = ANY(%s::text[]) AND owner = %s",
                [names, owner],
            )

    async def owner(self, name: str) -> str | None:
        rows = await self._db.execute(
            "SELECT owner FROM realtime_lease WHERE name = %s AND expires_at >= now() AND owner <> ''",
            [name])
        return str(rows[0][0]) if rows else None

    async def save(self, name: str, data: bytes, *, owner: str) -> bool:
        rows = await self._db.execute(
            "UPDATE realtime_lease SET data = %s, saved_at = now()"
            " WHERE name = %s AND owner = %s RETURNING 1",
            [data, name, owner],
        )
        return bool(rows)

    async def load(self, name: str) -> bytes | None:
        rows = await self._db.execute("SELECT data FROM realtime_lease WHERE name = %s", [name])
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    async def close(self) -> None:
        await self._db.close()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def build_lease_store() -> LeaseStore | None:
    """The site's lease store, or None with one process (nothing to share)."""
    backend = shared_state_backend()
    if backend == "redis":
        return RedisLeaseStore(settings.REDIS_URL, prefix=settings.REDIS_KEY_PREFIX)
    if backend == "postgres":
        return PostgresLeaseStore(postgres_conninfo())
    return None
