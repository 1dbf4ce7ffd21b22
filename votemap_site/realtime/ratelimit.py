"""Token buckets for per-connection and per-session event limits.

Pure code (no Django, no socketio): `now` is always passed in, so the maths is
tested without clocks. Limits are never keyed by IP address: a conference
audience shares one public address.
"""

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs per_second > 0 and burst >= 1")


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


@dataclass(slots=True)
class StrikeCounter:
    """Counts refusals in a sliding window; a flooding client crosses `strikes`."""

    strikes: int
    window: float
    times: deque[float] = field(default_factory=deque)

    def add(self, now: float) -> bool:
        """Record a refusal; True when the client has crossed the limit."""
        self.times.append(now)
        while self.times and self.times[0] < now - self.window:
            self.times.popleft()
        return len(self.times) >= self.strikes


class RateLimiter:
    """Buckets per (key, event). One instance per namespace and worker.

    A key is a connection sid or a session key. Session buckets allow
    `session_multiplier` times the connection rate, so one person with a few
    tabs is fine but opening fifty tabs does not multiply their allowance.
    """

    def __init__(self, *, session_multiplier: float = 3.0) -> None:
        self.session_multiplier = session_multiplier
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def check(self, *, key: str, event: str, limit: RateLimit, now: float) -> float:
        bucket = self._buckets.get((key, event))
        if bucket is None:
            bucket = self._buckets[(key, event)] = TokenBucket.full(limit, now)
        return bucket.take(now)

    def check_all(
        self, *, conn_key: str, session_key: str | None, event: str, limit: RateLimit, now: float
    ) -> float:
        """Connection bucket first, then the session's; 0.0 when both allow."""
        wait = self.check(key=conn_key, event=event, limit=limit, now=now)
        if wait or session_key is None:
            return wait
        session_limit = RateLimit(
            per_second=limit.per_second * self.session_multiplier,
            burst=max(1, int(limit.burst * self.session_multiplier)),
        )
        wait = self.check(key="s:" + session_key, event=event, limit=session_limit, now=now)
        if wait:
            # Give the connection its token back: nothing was applied.
            self._buckets[(conn_key, event)].tokens += 1.0
        return wait

    def forget(self, key: str) -> None:
        for bucket_key in [k for k in self._buckets if k[0] == key]:
            del self._buckets[bucket_key]

    def prune(self, *, now: float, idle: float = 300.0) -> None:
        """Drop buckets that are full again and idle: they hold no information."""
        for bucket_key, bucket in list(self._buckets.items()):
            if now - bucket.updated > idle:
                del self._buckets[bucket_key]
