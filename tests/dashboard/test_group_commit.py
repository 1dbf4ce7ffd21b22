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
from votemap_site.realtime.presence import LocalPresence

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
async def namespace(provinces, settings):
    settings.DASHBOARD_TICK_MS = 50
    ns = sockets.MapDashboardNamespace("/map-dashboard", presence=LocalPresence())
    sent = []

    async def emit(event, data=None, **kwargs):
        sent.append((event, data, kwargs))

    ns.emit = emit
    ns.sent = sent
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
