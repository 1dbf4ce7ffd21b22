"""Token buckets and flood detection (pure code, Hypothesis)."""

from hypothesis import given
from hypothesis import strategies as st

from votemap_site.realtime.ratelimit import RateLimit, RateLimiter, StrikeCounter, TokenBucket


def test_burst_then_refusal_with_retry_after() -> None:
    bucket = TokenBucket.full(RateLimit(per_second=10, burst=3), now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = bucket.take(0.0)
    assert abs(wait - 0.1) < 1e-9
    assert bucket.take(0.1) == 0.0  # refilled after retry_after


@given(
    per_second=st.floats(min_value=0.5, max_value=100),
    burst=st.integers(min_value=1, max_value=50),
    gaps=st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=200),
)
def test_never_allows_more_than_burst_plus_refill(per_second: float, burst: int, gaps: list[float]) -> None:
    bucket = TokenBucket.full(RateLimit(per_second=per_second, burst=burst), now=0.0)
    now, allowed = 0.0, 0
    for gap in gaps:
        now += gap
        wait = bucket.take(now)
        assert wait >= 0.0
        if wait == 0.0:
            allowed += 1
        else:
            # Waiting exactly retry_after makes the next one pass.
            assert wait <= 1.0 / per_second + 1e-9
    assert allowed <= burst + now * per_second + 1e-6
    assert 0.0 <= bucket.tokens <= burst


def test_session_bucket_caps_many_connections_of_one_person() -> None:
    limiter = RateLimiter()
    limit = RateLimit(per_second=1, burst=2)
    allowed = 0
    for conn in range(10):  # ten tabs of one session, each with its own connection bucket
        for _ in range(2):
            if limiter.check_all(conn_key=f"c{conn}", shared_key="s:S", shared_multiplier=2.0,
                                 event="e", limit=limit, now=0.0) == 0:
                allowed += 1
    assert allowed == 4  # the session's burst (2 x 2), not 10 x 2


def test_connections_without_session_are_independent() -> None:
    limiter = RateLimiter()
    limit = RateLimit(per_second=1, burst=1)
    kw = {"shared_key": None, "shared_multiplier": 1.0, "event": "e", "limit": limit, "now": 0.0}
    assert limiter.check_all(conn_key="a", **kw) == 0
    assert limiter.check_all(conn_key="b", **kw) == 0
    assert limiter.check_all(conn_key="a", **kw) > 0


def test_refused_by_session_gives_the_connection_token_back() -> None:
    limiter = RateLimiter()
    limit = RateLimit(per_second=1, burst=1)
    kw = {"shared_key": "s:S", "shared_multiplier": 1.0, "event": "e", "limit": limit}
    assert limiter.check_all(conn_key="a", now=0.0, **kw) == 0
    assert limiter.check_all(conn_key="b", now=0.0, **kw) > 0
    # b's own bucket was not charged for the refused event: after the session
    # refills, b gets through immediately.
    assert limiter.check_all(conn_key="b", now=1.0, **kw) == 0


def test_limits_are_per_event() -> None:
    limiter = RateLimiter()
    limit = RateLimit(per_second=1, burst=1)
    assert limiter.check(key="a", event="x", limit=limit, now=0) == 0
    assert limiter.check(key="a", event="y", limit=limit, now=0) == 0
    assert limiter.check(key="a", event="x", limit=limit, now=0) > 0


@given(times=st.lists(st.floats(min_value=0, max_value=100), max_size=100))
def test_strike_counter_counts_only_the_window(times: list[float]) -> None:
    counter = StrikeCounter(strikes=5, window=10.0)
    seen: list[float] = []
    for t in sorted(times):
        seen.append(t)
        crossed = counter.add(t)
        in_window = [s for s in seen if s >= t - 10.0]
        assert crossed == (len(in_window) >= 5)


def test_forgetting_a_connection_keeps_the_shared_bucket() -> None:
    """A client that reconnects (a new connection key) still finds its session empty."""
    limiter = RateLimiter()
    limit = RateLimit(per_second=1, burst=2)
    kw = {"shared_key": "s:S", "shared_multiplier": 1.0, "event": "e", "limit": limit, "now": 0.0}
    assert [limiter.check_all(conn_key="a", **kw) == 0 for _ in range(3)] == [True, True, False]
    limiter.forget("a")
    assert limiter.check_all(conn_key="b", **kw) > 0


@given(
    burst=st.integers(min_value=1, max_value=20),
    per_second=st.floats(min_value=0.1, max_value=50),
    taken=st.integers(min_value=0, max_value=40),
    later=st.floats(min_value=0, max_value=100),
)
def test_prune_drops_exactly_the_refilled_buckets(burst: int, per_second: float, taken: int, later: float) -> None:
    """Pruning never changes an answer: it only drops buckets that are full again."""
    limit = RateLimit(per_second=per_second, burst=burst)
    pruned, kept = RateLimiter(), RateLimiter()
    for limiter in (pruned, kept):
        for _ in range(taken):
            limiter.check(key="s:S", event="e", limit=limit, now=0.0)
    dropped = pruned.prune(now=later)
    exists = taken > 0
    refilled = exists and float(burst - min(taken, burst)) + later * per_second >= burst
    assert dropped == (1 if refilled else 0)
    assert len(pruned) == (1 if exists and not refilled else 0)
    for step in range(burst + 2):
        now = later + step * 1e-6
        assert (pruned.check(key="s:S", event="e", limit=limit, now=now) == 0) == (
            kept.check(key="s:S", event="e", limit=limit, now=now) == 0)


def test_strike_counter_memory_is_bounded() -> None:
    counter = StrikeCounter(strikes=5, window=1000.0)
    for i in range(10_000):
        counter.add(float(i) / 1000)
    assert len(counter.times) == 5
