"""The namespace's group commit, driven directly (no network): one transaction per tick."""

import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async

from dashboard import sockets
from dashboard.models import Vote
from dashboard.schemas import VotePayload
from votemap_site.realtime.errors import RealtimeError
from votemap_site.realtime.identity import anonymous_identity
from tests.helpers import record_emits
from votemap_site.realtime.presence import LocalPresence

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
async def namespace(provinces, settings):
    settings.DASHBOARD_TICK_MS = 50
    ns = sockets.MapDashboardNamespace("/map-dashboard", presence=LocalPresence())
    record_emits(ns)
    ns._identities["sid-1"] = anonymous_identity("sid-1")
    await ns.start()
    yield ns
    await ns.stop()


def vote(code="28", direction="up", vote_id=None):
    return VotePayload(province=code, direction=direction, vote_id=vote_id)


async def test_concurrent_votes_are_one_transaction_and_acked_after_commit(namespace, monkeypatch):
    calls = []
    real = sockets.vote_cast_batch

    def recording(*, requests):
        result = real(requests=requests)  # returns after the commit
        calls.append(len(requests))
        return result

    monkeypatch.setattr(sockets, "vote_cast_batch", recording)
    n = 40

    async def one(i):
        ack = await namespace.on_vote("sid-1", vote("28" if i % 2 else "08"))
        assert calls, "acked before the batch was committed"
        return ack

    acks = await asyncio.gather(*[one(i) for i in range(n)])
    assert calls == [n]
    assert namespace.batches_committed == 1
    assert len({a["version"] for a in acks}) == 1
    assert sorted(a["votes"] for a in acks if a["province"] == "28") == list(range(1, n // 2 + 1))
    deltas = [data for event, data, _ in namespace.sent if event == "votes"]
    assert deltas == [{"version": acks[0]["version"], "counts": {"28": n // 2, "08": n // 2}}]
    assert await sync_to_async(Vote.objects.count)() == n


async def test_a_failed_commit_answers_internal_and_stores_nothing(namespace, monkeypatch):
    def broken(*, requests):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sockets, "vote_cast_batch", broken)
    results = await asyncio.gather(*[namespace.on_vote("sid-1", vote()) for _ in range(3)], return_exceptions=True)
    assert all(isinstance(r, RealtimeError) and r.code == "internal" for r in results)
    assert not [e for e, *_ in namespace.sent if e == "votes"]
    monkeypatch.undo()
    vote_id = str(uuid.uuid4())
    assert (await namespace.on_vote("sid-1", vote(vote_id=vote_id)))["votes"] == 1


async def test_votes_queued_at_shutdown_are_still_committed(namespace):
    tasks = [asyncio.ensure_future(namespace.on_vote("sid-1", vote())) for _ in range(5)]
    await asyncio.sleep(0)  # queued, not yet flushed
    await namespace.stop()
    acks = await asyncio.gather(*tasks)
    assert max(a["votes"] for a in acks) == 5
    assert await sync_to_async(Vote.objects.count)() == 5
    with pytest.raises(RealtimeError):
        await namespace.on_vote("sid-1", vote())


# ----- a commit that fails half way -------------------------------------------
# A database trigger makes one statement of the group commit fail, after the
# statements before it have run inside the transaction: the vote rows are
# inserted (and, for the second trigger, the province counters updated) when the
# error comes. The transaction must take all of it back.
FAIL_AT = {
    # statement that fails -> (table, column whose UPDATE raises)
    "province_update": ("dashboard_province", "votes"),
    "version_bump": ("dashboard_votingstate", "version"),
}


def _trigger_sql(vendor: str, table: str, column: str) -> tuple[list[str], list[str]]:
    """(create, drop) statements of a trigger that rejects any UPDATE of `table.column`."""
    if vendor == "sqlite":
        return (
            [f"CREATE TRIGGER fail_half_way BEFORE UPDATE OF {column} ON {table}"
             " BEGIN SELECT RAISE(ABORT, 'injected failure half way through the batch'); END"],
            ["DROP TRIGGER fail_half_way"],
        )
    if vendor == "postgresql":
        return (
            ["CREATE FUNCTION fail_half_way() RETURNS trigger LANGUAGE plpgsql AS"
             " $$ BEGIN RAISE EXCEPTION 'injected failure half way through the batch'; END $$",
             f"CREATE TRIGGER fail_half_way BEFORE UPDATE OF {column} ON {table}"
             " FOR EACH ROW EXECUTE FUNCTION fail_half_way()"],
            [f"DROP TRIGGER fail_half_way ON {table}", "DROP FUNCTION fail_half_way()"],
        )
    pytest.skip(f"no failure trigger for {vendor}")


def _run_sql(statements: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _stored() -> tuple[int, dict[str, int], int, int]:
    from dashboard.models import STATE_PK, Province, VotingState

    state = VotingState.objects.get(pk=STATE_PK)
    counts = dict(Province.objects.exclude(votes=0).values_list("code", "votes"))
    return Vote.objects.count(), counts, state.version, state.revision


@pytest.mark.parametrize("fail_at", sorted(FAIL_AT))
async def test_a_commit_failing_half_way_stores_nothing_and_the_retry_counts_each_vote_once(
    namespace, fail_at, caplog
):
    from django.db import connection

    # Some votes already stored, so "nothing moved" is checked against non-zero counts.
    for _ in range(2):
        await namespace.on_vote("sid-1", vote("08"))
    before = await sync_to_async(_stored)()
    assert before[0] == 2 and before[1] == {"08": 2}

    create, drop = _trigger_sql(connection.vendor, *FAIL_AT[fail_at])
    await sync_to_async(_run_sql)(create)
    ids = [str(uuid.uuid4()) for _ in range(5)]
    codes = ["28", "28", "08", "41", "28"]
    sent_before = len(namespace.sent)
    try:
        results = await asyncio.gather(
            *[namespace.on_vote("sid-1", vote(code, vote_id=vote_id)) for code, vote_id in zip(codes, ids, strict=True)],
            return_exceptions=True,
        )
    finally:
        await sync_to_async(_run_sql)(drop)
    assert all(isinstance(r, RealtimeError) and r.code == "internal" for r in results), results
    # The failure came from the database, half way through the batch, not before it.
    assert "injected failure half way" in caplog.text
    # Nothing of the batch is stored: no vote row, no counter moved, the version did not move.
    assert await sync_to_async(_stored)() == before
    assert not [e for e, *_ in namespace.sent[sent_before:] if e == "votes"]

    # The clients retry with the same vote_ids: each is counted exactly once.
    acks = await asyncio.gather(
        *[namespace.on_vote("sid-1", vote(code, vote_id=vote_id)) for code, vote_id in zip(codes, ids, strict=True)]
    )
    assert sorted(a["votes"] for a in acks if a["province"] == "28") == [1, 2, 3]
    count, counts, version, _ = await sync_to_async(_stored)()
    assert count == before[0] + 5
    assert counts == {"08": 3, "28": 3, "41": 1}
    assert version == before[2] + 1 == acks[0]["version"]
    stored_ids = await sync_to_async(lambda: {str(v) for v in Vote.objects.values_list("vote_id", flat=True)})()
    assert set(ids) <= stored_ids
    # And a second retry of the same ids changes nothing.
    again = await asyncio.gather(
        *[namespace.on_vote("sid-1", vote(code, vote_id=vote_id)) for code, vote_id in zip(codes, ids, strict=True)]
    )
    assert {a["version"] for a in again} == {version}
    assert await sync_to_async(_stored)() == (count, counts, version, before[3])


async def test_pending_votes_are_bounded_and_the_excess_is_rate_limited_with_retry_after(
        namespace, monkeypatch):
    # A database that stops answering: the first batch hangs in its commit.
    import threading

    namespace.max_pending = 3
    entered, release = threading.Event(), threading.Event()
    real = sockets.vote_cast_batch

    def hanging(*, requests):
        entered.set()
        release.wait(30)
        return real(requests=requests)

    monkeypatch.setattr(sockets, "vote_cast_batch", hanging)
    first = asyncio.ensure_future(namespace.on_vote("sid-1", vote(vote_id=str(uuid.uuid4()))))
    await asyncio.to_thread(entered.wait, 10)
    ids = [str(uuid.uuid4()) for _ in range(5)]
    tasks = [asyncio.ensure_future(namespace.on_vote("sid-1", vote(vote_id=vote_id))) for vote_id in ids]
    await asyncio.sleep(0.05)
    refused = [task for task in tasks if task.done()]
    assert len(refused) == 2 and len(namespace._pending) == 3
    for task in refused:
        error = task.exception()
        assert isinstance(error, RealtimeError) and error.code == "rate_limited"
        ack = error.to_ack()["error"]
        assert ack["retry_after"] > 0
    release.set()
    waited = await asyncio.gather(first, *[task for task in tasks if task not in refused])
    assert all(ack["votes"] >= 1 for ack in waited)
    # Nothing of the refused votes was stored; their retry (same ids) is.
    refused_ids = [vote_id for vote_id, task in zip(ids, tasks, strict=True) if task in refused]
    assert await sync_to_async(Vote.objects.filter(vote_id__in=refused_ids).count)() == 0
    for vote_id in refused_ids:
        await namespace.on_vote("sid-1", vote(vote_id=vote_id))
    assert await sync_to_async(Vote.objects.count)() == 6


async def _vote_waiting_for_its_tick(namespace):
    """A vote queued for the next group commit, not yet flushed."""
    task = asyncio.ensure_future(namespace.on_vote("sid-1", vote()))
    await asyncio.sleep(0)
    assert namespace._pending, "the vote should be waiting for its tick"
    return task


async def test_a_due_viewer_count_leaves_right_after_the_next_delta(namespace):
    await namespace.presence.join(namespace.presence_key)
    task = await _vote_waiting_for_its_tick(namespace)
    await namespace._push_viewers()
    assert not [e for e, *_ in namespace.sent if e == "viewers"], "held back for the delta"
    await task
    events = [(e, d) for e, d, _ in namespace.sent]
    assert [e for e, _ in events] == ["votes", "viewers"]
    assert events[1][1] == {"count": 1}


async def test_a_held_viewer_count_is_sent_even_when_the_commit_fails(namespace, monkeypatch):
    def broken(*, requests):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sockets, "vote_cast_batch", broken)
    await namespace.presence.join(namespace.presence_key)
    task = await _vote_waiting_for_its_tick(namespace)
    await namespace._push_viewers()
    with pytest.raises(RealtimeError):
        await task
    assert [(e, d) for e, d, _ in namespace.sent] == [("viewers", {"count": 1})]
