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
    limiter = RateLimiter(session_multiplier=2.0)
    limit = RateLimit(per_second=1, burst=2)
    allowed = 0
    for conn in range(10):  # ten tabs of one session, each with its own connection bucket
        for _ in range(2):
            if limiter.check_all(conn_key=f"c{conn}", session_key="S", event="e", limit=limit, now=0.0) == 0:
                allowed += 1
    assert allowed == 4  # the session's burst (2 x 2), not 10 x 2


def test_connections_without_session_are_independent() -> None:
    limiter = RateLimiter()
    limit = RateLimit(per_second=1, burst=1)
    assert limiter.check_all(conn_key="a", session_key=None, event="e", limit=limit, now=0.0) == 0
    assert limiter.check_all(conn_key="b", session_key=None, event="e", limit=limit, now=0.0) == 0
    assert limiter.check_all(conn_key="a", session_key=None, event="e", limit=limit, now=0.0) > 0


def test_refused_by_session_gives_the_connection_token_back() -> None:
    limiter = RateLimiter(session_multiplier=1.0)
    limit = RateLimit(per_second=1, burst=1)
    assert limiter.check_all(conn_key="a", session_key="S", event="e", limit=limit, now=0.0) == 0
    assert limiter.check_all(conn_key="b", session_key="S", event="e", limit=limit, now=0.0) > 0
    # b's own bucket was not charged for the refused event: after the session
    # refills, b gets through immediately.
    assert limiter.check_all(conn_key="b", session_key="S", event="e", limit=limit, now=1.0) == 0


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
