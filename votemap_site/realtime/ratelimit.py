"""Token buckets for per-connection, per-session and per-address limits.

Pure code (no Django, no socketio): `now` is always passed in, so the maths is
tested without clocks.

What a bucket is keyed by decides whether a client can reset it (see
edge.py): connection buckets are keyed by the Engine.IO connection (never by a
namespace sid, which a client renews for free by reconnecting the
namespace); a browser's events are also charged to its session; a cookie-less
client's events are also charged to its address, which is the only thing it
cannot renew. Browsers with a session are never limited by address alone: a
conference audience shares one public address.
"""

from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs per_second > 0 and burst >= 1")

    def scaled(self, factor: float) -> "RateLimit":
        """The same limit `factor` times larger (shared buckets of several connections)."""
        return RateLimit(per_second=self.per_second * factor, burst=max(1, int(self.burst * factor)))


@dataclass(slots=True)
class TokenBucket:
    limit: RateLimit
    tokens: float
    updated: float

    @classmethod
    def full(cls, limit: RateLimit, now: float) -> "TokenBucket":
        return cls(limit=limit, tokens=float(limit.burst), updated=now)

    def take(self, now: float) -> float:
        """Take one token. Returns 0.0 when allowed, else seconds until one is available."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.limit.burst), self.tokens + elapsed * self.limit.per_second)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.limit.per_second

    def full_at(self, now: float) -> bool:
        """True when the bucket has refilled by `now`: it then holds no information."""
        elapsed = max(0.0, now - self.updated)
        return self.tokens + elapsed * self.limit.per_second >= self.limit.burst


@dataclass(slots=True)
class StrikeCounter:
    """Counts refusals in a sliding window; a flooding client crosses `strikes`.

    At most `strikes` times are kept: older ones are dropped as new ones come,
    so a client refused a million times holds `strikes` floats, not a million.
    """

    strikes: int
    window: float
    times: deque[float] = field(default_factory=deque)

    def add(self, now: float) -> bool:
        """Record a refusal; True when the client has crossed the limit."""
        self.times.append(now)
        while self.times and (self.times[0] < now - self.window or len(self.times) > self.strikes):
            self.times.popleft()
        return len(self.times) >= self.strikes


@lru_cache(maxsize=256)
def _scaled(limit: RateLimit, factor: float) -> RateLimit:
    # A few (limit, multiplier) pairs exist; building one per event cost ~2.5 µs.
    return limit.scaled(factor)


class RateLimiter:
    """Buckets per (key, event). One instance per server process.

    A key is an Engine.IO connection id, "s:<session key>" or "a:<address>".
    Shared buckets (a session's, an address's) allow `multiplier` times the
    connection rate, so one person with a few tabs is fine but opening fifty
    tabs, or fifty cookie-less connections, does not multiply the allowance.
    """

    def __init__(self) -> None:
        self._buckets: dict[str, dict[str, TokenBucket]] = {}

    def __len__(self) -> int:
        return sum(len(events) for events in self._buckets.values())

    def check(self, *, key: str, event: str, limit: RateLimit, now: float) -> float:
        events = self._buckets.get(key)
        if events is None:
            events = self._buckets[key] = {}
        bucket = events.get(event)
        if bucket is None:
            bucket = events[event] = TokenBucket.full(limit, now)
        return bucket.take(now)

    def check_all(
        self, *, conn_key: str, shared_key: str | None, shared_multiplier: float,
        event: str, limit: RateLimit, now: float,
    ) -> float:
        """Connection bucket first, then the shared one; 0.0 when both allow."""
        wait = self.check(key=conn_key, event=event, limit=limit, now=now)
        if wait or shared_key is None:
            return wait
        wait = self.check(key=shared_key, event=event, limit=_scaled(limit, shared_multiplier), now=now)
        if wait:
            # Give the connection its token back: nothing was applied.
            self._buckets[conn_key][event].tokens += 1.0
        return wait

    def forget(self, key: str) -> None:
        """Drop a connection's buckets when the connection is gone (O(1))."""
        self._buckets.pop(key, None)

    def prune(self, *, now: float) -> int:
        """Drop buckets that have refilled (they hold no information); returns how many.

        Called periodically, this is what frees the buckets of sessions and
        addresses that went quiet: without it they would be kept for ever.
        """
        dropped = 0
        for key in list(self._buckets):
            events = self._buckets[key]
            for event in [name for name, bucket in events.items() if bucket.full_at(now)]:
                del events[event]
                dropped += 1
            if not events:
                del self._buckets[key]
        return dropped
