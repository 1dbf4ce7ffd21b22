"""The map with a large audience: the adaptive tick, throttled viewer pushes (pure
functions, with Hypothesis) and the namespace applying them; batched identities."""

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard import sockets
from dashboard.audience import tick_during_joins, tick_for_audience, viewers_due
from votemap_site.realtime.identity import IdentityResolver, anonymous_identity, identities_resolve
from votemap_site.realtime.presence import LocalPresence

seconds = st.floats(min_value=0.005, max_value=2.0, allow_nan=False)
per_connection = st.floats(min_value=0.0, max_value=1e-3, allow_nan=False)
audience = st.integers(min_value=0, max_value=200_000)


# ----- tick_for_audience ---------------------------------------------------------
@given(connections=audience, base=seconds, per=per_connection, ceiling=seconds)
def test_tick_stays_between_the_base_and_the_ceiling(connections, base, per, ceiling):
    tick = tick_for_audience(connections, base=base, per_connection=per, ceiling=ceiling)
    assert base <= tick <= max(base, ceiling)


@given(a=audience, b=audience, base=seconds, per=per_connection, ceiling=seconds)
def test_a_larger_audience_never_gets_a_shorter_tick(a, b, base, per, ceiling):
    small, large = sorted((a, b))
    assert (tick_for_audience(small, base=base, per_connection=per, ceiling=ceiling)
            <= tick_for_audience(large, base=base, per_connection=per, ceiling=ceiling))


@given(connections=audience, base=seconds, per=per_connection, ceiling=seconds)
def test_the_fan_out_fits_in_the_tick_unless_the_ceiling_holds_it(connections, base, per, ceiling):
    tick = tick_for_audience(connections, base=base, per_connection=per, ceiling=ceiling)
    assert connections * per <= tick + 1e-12 or tick == max(base, ceiling)


def test_tick_figures_with_the_default_settings():
    def tick(n):
        return tick_for_audience(n, base=0.05, per_connection=14e-6, ceiling=0.15)

    assert tick(0) == tick(1000) == tick(3500) == 0.05  # small audiences keep the 50 ms tick
    assert tick(5000) == pytest.approx(0.07)
    assert tick(10_000) == pytest.approx(0.14)
    assert tick(50_000) == 0.15  # never beyond the ceiling


def test_tick_refuses_a_base_that_is_not_a_duration():
    with pytest.raises(ValueError):
        tick_for_audience(10, base=0.0, per_connection=1e-6, ceiling=1.0)


# ----- viewers_due ----------------------------------------------------------------------
@given(count=st.integers(0, 10**6), now=st.floats(0, 1e6), sent_at=st.floats(0, 1e6), interval=seconds)
def test_an_unchanged_count_is_never_pushed(count, now, sent_at, interval):
    assert not viewers_due(count=count, sent=count, now=now, sent_at=sent_at, min_interval=interval)


@given(count=st.integers(0, 10**6), now=st.floats(0, 1e6), interval=seconds)
def test_the_first_count_is_pushed_at_once(count, now, interval):
    assert viewers_due(count=count, sent=None, now=now, sent_at=now, min_interval=interval)


@given(count=st.integers(0, 10**6), sent=st.integers(0, 10**6), sent_at=st.floats(0, 1e6),
       elapsed=st.floats(0, 10), interval=seconds)
def test_a_changed_count_waits_for_the_interval(count, sent, sent_at, elapsed, interval):
    due = viewers_due(count=count, sent=sent, now=sent_at + elapsed, sent_at=sent_at, min_interval=interval)
    assert due == (count != sent and (sent_at + elapsed) - sent_at >= interval)


@given(changes=st.lists(st.floats(min_value=0, max_value=0.2), min_size=1, max_size=300), interval=seconds)
def test_pushes_during_a_storm_are_at_most_one_per_interval(changes, interval):
    """The count changes at every step of a storm; pushes stay `interval` apart."""
    now, count, sent, sent_at, pushes = 0.0, 0, None, 0.0, []
    for step in changes:
        now += step
        count += 1
        if viewers_due(count=count, sent=sent, now=now, sent_at=sent_at, min_interval=interval):
            sent, sent_at = count, now
            pushes.append(now)
    assert pushes and pushes[0] == changes[0]
    assert all(b - a >= interval for a, b in zip(pushes, pushes[1:], strict=False))


# ----- the namespace applies them ------------------------------------------------------
@pytest.fixture
def namespace(settings):
    settings.DASHBOARD_TICK_MS = 50
    settings.DASHBOARD_TICK_MAX_MS = 150
    settings.DASHBOARD_TICK_PER_CONNECTION_US = 14.0
    settings.DASHBOARD_VIEWERS_INTERVAL_MS = 1000
    settings.DASHBOARD_JOIN_STORM_PER_SECOND = 20
    presence = LocalPresence()
    ns = sockets.MapDashboardNamespace("/map-dashboard", presence=presence)
    sent = []

    async def emit(event, data=None, **kwargs):
        sent.append((event, data))

    ns.emit = emit
    ns.sent = sent
    return ns


def connect(ns, count):
    for n in range(len(ns._identities), len(ns._identities) + count):
        ns._identities[f"sid-{n}"] = anonymous_identity(f"sid-{n}")


async def test_the_namespace_lengthens_its_tickers_with_its_audience(namespace):
    connect(namespace, 10)
    await namespace._push_viewers()
    assert namespace.tick == namespace._watcher.ticker.interval == 0.05
    connect(namespace, 9990)
    await namespace._push_viewers()
    assert namespace.tick == pytest.approx(0.14)
    assert namespace._watcher.ticker.interval == pytest.approx(0.14)
    for sid in list(namespace._identities)[100:]:
        del namespace._identities[sid]
    await namespace._push_viewers()
    assert namespace.tick == 0.05


async def test_viewer_counts_are_pushed_at_most_once_per_interval(namespace, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(sockets.time, "monotonic", lambda: clock[0])
    connect(namespace, 1)
    for _ in range(5):
        await namespace.presence.join(namespace.presence_key)
        await namespace._push_viewers()
        clock[0] += 0.05
    assert [data for event, data in namespace.sent] == [{"count": 1}]
    clock[0] += 1.0
    await namespace._push_viewers()
    assert [data for event, data in namespace.sent] == [{"count": 1}, {"count": 5}]
    await namespace._push_viewers()  # unchanged: nothing
    assert len(namespace.sent) == 2


# ----- identities -------------------------------------------------------------------------
async def test_anonymous_identities_need_no_database():
    async def run(*args, **kwargs):
        raise AssertionError("an anonymous connection must not reach the database")

    resolver = IdentityResolver(run=run)
    assert await resolver.resolve(connection="eio-1", session_key=None) == anonymous_identity("eio-1")
    assert resolver.batches == 0


async def test_concurrent_session_lookups_share_database_calls():
    calls = []

    async def run(fn, **kwargs):
        calls.append(kwargs["requests"])
        await asyncio.sleep(0.01)
        return [anonymous_identity(f"{connection}/{key}") for connection, key in kwargs["requests"]]

    resolver = IdentityResolver(run=run, max_batch=50)
    results = await asyncio.gather(*(resolver.resolve(connection=f"c{n}", session_key=f"k{n}")
                                     for n in range(120)))
    # each caller gets its own identity, in order, from at most a few calls
    assert results == [anonymous_identity(f"c{n}/k{n}") for n in range(120)]
    assert sum(len(batch) for batch in calls) == 120
    assert len(calls) <= 4
    assert all(len(batch) <= 50 for batch in calls)


async def test_a_failed_lookup_fails_its_batch_and_the_next_one_works():
    fail = [True]

    async def run(fn, **kwargs):
        await asyncio.sleep(0)
        if fail[0]:
            fail[0] = False
            raise RuntimeError("database down")
        return [anonymous_identity(c) for c, _ in kwargs["requests"]]

    resolver = IdentityResolver(run=run)
    with pytest.raises(RuntimeError):
        await resolver.resolve(connection="c1", session_key="k1")
    assert await resolver.resolve(connection="c2", session_key="k2") == anonymous_identity("c2")


@pytest.mark.django_db
def test_identities_resolve_matches_one_lookup_each():
    requests = [("c1", None), ("c2", "no-such-session")]
    assert identities_resolve(requests=requests) == [anonymous_identity("c1"), anonymous_identity("c2")]


# ----- the connect-time snapshot: encoded once per version, byte-identical ------------------
def stock_frame(namespace, event, data):
    """What python-socketio + engine.io + broadcast.py send for plain data, unshared."""
    from engineio import packet as eio_packet
    from socketio import packet as sio_packet

    from votemap_site.realtime.broadcast import websocket_text_frame

    encoded = sio_packet.Packet(sio_packet.EVENT, namespace=namespace, data=[event, data]).encode()
    return websocket_text_frame(eio_packet.Packet(eio_packet.MESSAGE, encoded).encode())


def shared_frame(namespace, event, payload):
    from engineio import packet as eio_packet
    from socketio import packet as sio_packet

    encoded = payload.encoded(sio_packet.Packet, namespace, event)
    return payload.frame(eio_packet.Packet(eio_packet.MESSAGE, encoded))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(data=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
       fragments=st.sets(st.integers(0, 5)),
       namespace=st.sampled_from(["/", "/map-dashboard"]))
def test_a_shared_payload_is_byte_identical_to_the_stock_encoding(data, fragments, namespace):
    from votemap_site.realtime.broadcast import JsonFragment, SharedPayload

    spliced = {k: JsonFragment(v) if i in fragments else v for i, (k, v) in enumerate(data.items())}
    payload = SharedPayload(spliced)
    assert payload.plain() == data
    first = shared_frame(namespace, "snapshot", payload)
    assert first == stock_frame(namespace, "snapshot", data)
    assert shared_frame(namespace, "snapshot", payload) is first  # reused, not rebuilt
    assert shared_frame(namespace, "other", payload) == stock_frame(namespace, "other", data)


def test_the_real_snapshot_is_byte_identical(provinces):
    from dashboard.selectors import map_snapshot
    from votemap_site.realtime.broadcast import JsonFragment, SharedPayload

    snapshot = map_snapshot()
    public = {"version": snapshot["version"], "open": snapshot["open"], "viewers": 12345,
              "provinces": snapshot["provinces"]}
    payload = SharedPayload({**public, "provinces": JsonFragment(snapshot["provinces"])})
    expected = stock_frame("/map-dashboard", "snapshot", public)
    assert shared_frame("/map-dashboard", "snapshot", payload) == expected


async def test_connections_share_one_snapshot_payload_per_version_and_count(namespace, monkeypatch):
    from votemap_site.realtime import broadcast

    namespace.server = type("S", (), {"manager": broadcast.FastAsyncManager()})()
    snap = {"version": 7, "open": True, "revision": 3, "provinces": [{"code": "01", "name": "A", "votes": 2}]}
    await namespace.presence.join(namespace.presence_key)
    a = await namespace._connect_snapshot(snap)
    b = await namespace._connect_snapshot(dict(snap))
    assert a is b and isinstance(a, broadcast.SharedPayload)
    assert a.plain() == {"version": 7, "open": True, "viewers": 1, "provinces": snap["provinces"]}
    await namespace.presence.join(namespace.presence_key)
    c = await namespace._connect_snapshot(snap)
    assert c is not a and c.plain()["viewers"] == 2
    assert c.data["provinces"] is a.data["provinces"]  # the provinces' JSON is not encoded again
    d = await namespace._connect_snapshot({**snap, "version": 8, "provinces": []})
    assert d.plain() == {"version": 8, "open": True, "viewers": 2, "provinces": []}
    # python-socketio's own managers get plain data
    namespace.server = type("S", (), {"manager": object()})()
    assert await namespace._connect_snapshot(snap) == {"version": 7, "open": True, "viewers": 2,
                                                       "provinces": snap["provinces"]}


# ----- a room connecting ----------------------------------------------------------------
@given(tick=seconds, ceiling=seconds, joins=st.floats(0, 10_000, allow_nan=False),
       threshold=st.floats(0, 1_000, allow_nan=False))
def test_a_join_storm_lengthens_the_tick_to_the_ceiling_and_only_then(tick, ceiling, joins, threshold):
    result = tick_during_joins(tick, joins_per_second=joins, threshold=threshold, ceiling=ceiling)
    storm = threshold > 0 and joins >= threshold
    assert result == (max(tick, ceiling) if storm else tick)
    assert result >= tick


async def test_the_namespace_holds_the_longest_tick_while_a_room_connects(namespace, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(sockets.time, "monotonic", lambda: clock[0])
    namespace._joins_window_start = clock[0]
    connect(namespace, 100)
    await namespace._push_viewers()
    assert namespace.tick == 0.05
    namespace._joins_now = 30  # 30 connections within the next second
    clock[0] += 1.0
    await namespace._push_viewers()
    assert namespace.tick == namespace._watcher.ticker.interval == 0.15
    clock[0] += 1.0  # a quiet second: back to the audience's tick
    await namespace._push_viewers()
    assert namespace.tick == 0.05
