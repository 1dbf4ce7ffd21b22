"""The map's own commit thread and its snapshots, driven directly (no network).

- The group commit runs on a thread (and connection) of its own: reads and
  snapshots are answered while a commit is stuck, and under SQLite in WAL mode
  the reader and the writer connection still store every vote exactly once.
- With one worker a snapshot comes from memory, kept current by the worker's
  own batches, never older than a delta it sent, and dropped when another
  writer, an admin change or nobody connected says it may be behind.
- With several workers `get_snapshot` requests share the NEXT database read.
"""

import asyncio
import threading
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from dashboard import selectors, services, sockets
from dashboard.models import Province, Vote, VotingState
from dashboard.schemas import GetSnapshotPayload, VotePayload
from votemap_site.realtime.dbaccess import DbThread, db
from votemap_site.realtime.identity import anonymous_identity
from tests.helpers import record_emits
from votemap_site.realtime.presence import LocalPresence

pytestmark = [pytest.mark.django_db(transaction=True)]

# Guards against a test hanging forever when the code under test is broken
# (a read queued behind a stuck commit): never a measurement.
HANG = 20


@pytest.fixture
async def namespace(provinces, settings):
    settings.DASHBOARD_TICK_MS = 20
    ns = sockets.MapDashboardNamespace("/map-dashboard", presence=LocalPresence())
    record_emits(ns)
    ns.connection_count = lambda: 1  # one client connected, as far as the watcher is concerned
    ns._identities["sid-1"] = anonymous_identity("sid-1")
    await ns.start()
    # The tests run the watcher's ticks themselves, so none comes in between by chance.
    await ns._watcher.stop()
    yield ns
    await ns.stop()


def vote(code="28", direction="up", vote_id=None):
    return VotePayload(province=code, direction=direction, vote_id=vote_id)


def counts_of(snapshot):
    return {p["code"]: p["votes"] for p in snapshot["provinces"]}


async def snapshot_of(ns):
    return await asyncio.wait_for(ns.on_get_snapshot("sid-1", GetSnapshotPayload()), HANG)


@pytest.fixture
def map_reads(monkeypatch):
    """Counts the database snapshot reads the namespace makes."""
    calls = []
    real = sockets.map_snapshot

    def counting():
        calls.append(threading.get_ident())
        return real()

    monkeypatch.setattr(sockets, "map_snapshot", counting)
    return calls


@pytest.fixture
def stuck_commit(monkeypatch):
    """The next group commit blocks (inside its thread) until `release` is set."""
    entered, release = threading.Event(), threading.Event()
    real = sockets.vote_cast_batch

    def stuck(*, requests):
        entered.set()
        release.wait(HANG)
        return real(requests=requests)

    monkeypatch.setattr(sockets, "vote_cast_batch", stuck)
    yield entered, release
    release.set()


# ----- the commit's own thread ------------------------------------------------
@pytest.mark.parametrize("from_memory", [True, False], ids=["one-worker", "several-workers"])
async def test_a_snapshot_during_a_stuck_commit_is_answered_without_waiting_for_it(
        namespace, stuck_commit, from_memory):
    namespace.serve_from_memory = from_memory
    before = await snapshot_of(namespace)
    entered, release = stuck_commit
    pending = asyncio.ensure_future(namespace.on_vote("sid-1", vote()))
    assert await asyncio.to_thread(entered.wait, HANG)
    # The commit is stuck on its thread: a snapshot, and any other read on the
    # shared database thread, are answered all the same.
    during = await snapshot_of(namespace)
    assert during["version"] == before["version"] and not pending.done()
    assert await asyncio.wait_for(db(selectors.voting_marks), HANG) == (0, before["version"])
    release.set()
    ack = await asyncio.wait_for(pending, HANG)
    assert ack["version"] == before["version"] + 1
    assert counts_of(await snapshot_of(namespace))["28"] == 1


async def test_the_commit_runs_on_its_own_thread_with_its_own_connection(namespace, monkeypatch):
    seen = {}
    real = sockets.vote_cast_batch

    def recording(*, requests):
        seen["writer"] = (threading.get_ident(), id(connection.connection))
        return real(requests=requests)

    monkeypatch.setattr(sockets, "vote_cast_batch", recording)
    await namespace.on_vote("sid-1", vote())

    def reader():
        connection.ensure_connection()
        return threading.get_ident(), id(connection.connection)

    shared = await db(reader)
    assert seen["writer"][0] != shared[0]
    assert seen["writer"][1] != shared[1]


async def test_separate_reader_and_writer_connections_store_every_vote_once(namespace):
    assert connection.vendor != "sqlite" or (
        await db(lambda: connection.cursor().execute("PRAGMA journal_mode").fetchone()[0])
    ) == "wal"
    codes = ["28", "08", "41", "46"]
    ids = [str(uuid.uuid4()) for _ in range(200)]
    stop = asyncio.Event()
    versions_seen = []

    async def reader():  # snapshots read on the other connection all along
        namespace.serve_from_memory = False
        while not stop.is_set():
            versions_seen.append((await snapshot_of(namespace))["version"])
            await asyncio.sleep(0)

    reading = asyncio.ensure_future(reader())
    # Every vote twice (a retry with the same id, in the same or a later batch).
    def send_all():
        return asyncio.gather(*[namespace.on_vote("sid-1", vote(codes[i % 4], vote_id=v))
                                for i, v in enumerate(ids)])

    first = send_all()
    await asyncio.sleep(0.03)
    again = send_all()
    acks = await asyncio.wait_for(asyncio.gather(first, again), HANG)
    stop.set()
    await asyncio.wait_for(reading, HANG)
    assert versions_seen == sorted(versions_seen)
    assert all(ack["votes"] >= 1 for batch in acks for ack in batch)
    assert await sync_to_async(Vote.objects.count)() == 200
    counts = await sync_to_async(
        lambda: dict(Province.objects.filter(code__in=codes).values_list("code", "votes")))()
    assert counts == {code: 50 for code in codes}


# ----- snapshots from memory (one worker) -------------------------------------
async def test_snapshots_come_from_memory_and_follow_the_workers_own_batches(namespace, map_reads):
    first = await snapshot_of(namespace)
    assert len(map_reads) == 1
    acks = await asyncio.gather(*[namespace.on_vote("sid-1", vote(code)) for code in ["28", "28", "08"]])
    for _ in range(5):
        snapshot = await snapshot_of(namespace)
    assert len(map_reads) == 1, "served from memory"
    delta = [data for event, data, _ in namespace.sent if event == "votes"][-1]
    assert snapshot["version"] == delta["version"] == acks[0]["version"] == first["version"] + 1
    assert counts_of(snapshot)["28"] == 2 and counts_of(snapshot)["08"] == 1
    # Exactly what the database has.
    stored = await db(sockets.map_snapshot)
    assert counts_of(snapshot) == counts_of(stored) and snapshot["version"] == stored["version"]
    assert [p["name"] for p in snapshot["provinces"]] == [p["name"] for p in stored["provinces"]]


async def test_another_writers_commit_makes_the_next_batch_read_the_database(namespace, map_reads):
    await snapshot_of(namespace)
    await sync_to_async(services.vote_cast)(province="41", direction="up")  # a script, say
    await namespace.on_vote("sid-1", vote("28"))  # its version does not follow memory's
    snapshot = await snapshot_of(namespace)
    assert len(map_reads) == 2
    assert counts_of(snapshot)["41"] == 1 and counts_of(snapshot)["28"] == 1


async def test_the_watcher_drops_memory_behind_another_writers_version(namespace):
    before = await snapshot_of(namespace)
    await sync_to_async(services.vote_cast)(province="41", direction="up")
    await namespace._watcher._tick()  # one tick: reads revision and version
    snapshot = await snapshot_of(namespace)
    assert snapshot["version"] == before["version"] + 1 and counts_of(snapshot)["41"] == 1


async def test_an_admin_change_reaches_the_snapshots(namespace):
    await snapshot_of(namespace)
    await namespace._watcher._tick()  # the watcher knows the revision
    await sync_to_async(services.voting_set_open)(is_open=False)
    await sync_to_async(services.province_set_active)(codes=["28"], active=False)
    await namespace._watcher._tick()
    pushed = [data for event, data, _ in namespace.sent if event == "snapshot"][-1]
    snapshot = await snapshot_of(namespace)
    for one in (pushed, snapshot):
        assert one["open"] is False and "28" not in counts_of(one)


async def test_memory_is_dropped_while_nobody_is_connected(namespace, map_reads):
    await snapshot_of(namespace)
    namespace.connection_count = lambda: 0
    await namespace._watcher._tick()
    await sync_to_async(services.vote_cast)(province="41", direction="up")
    namespace.connection_count = lambda: 1
    assert counts_of(await snapshot_of(namespace))["41"] == 1
    assert len(map_reads) == 2


async def test_a_read_older_than_a_sent_delta_is_not_kept(namespace, monkeypatch):
    # A snapshot read that started before a batch and ends after its delta went
    # out must not become memory: clients already have the newer version.
    await snapshot_of(namespace)
    entered, release = threading.Event(), threading.Event()
    real = sockets.map_snapshot

    def slow():
        snapshot = real()
        entered.set()
        release.wait(HANG)
        return snapshot

    namespace._known = None  # unknown: the next request reads the database
    monkeypatch.setattr(sockets, "map_snapshot", slow)
    reading = asyncio.ensure_future(snapshot_of(namespace))
    assert await asyncio.to_thread(entered.wait, HANG)
    ack = await namespace.on_vote("sid-1", vote("28"))  # committed and sent meanwhile
    release.set()
    old = await reading
    assert old["version"] == ack["version"] - 1  # what that request got: it asked before the batch
    monkeypatch.setattr(sockets, "map_snapshot", real)
    later = await snapshot_of(namespace)
    assert later["version"] == ack["version"] and counts_of(later)["28"] == 1


# ----- several workers: coalesced reads ---------------------------------------
async def test_snapshot_requests_share_the_next_read(namespace, monkeypatch):
    namespace.serve_from_memory = False
    entered, release = threading.Event(), threading.Event()
    calls = []
    real = sockets.map_snapshot

    def gated():
        calls.append(1)
        if len(calls) == 1:
            entered.set()
            release.wait(HANG)
        return real()

    monkeypatch.setattr(sockets, "map_snapshot", gated)
    first = asyncio.ensure_future(snapshot_of(namespace))
    assert await asyncio.to_thread(entered.wait, HANG)
    # Committed (by another writer: the shared thread is busy with the read)
    # after the first read started: the requests made now must see it.
    script = DbThread("script")
    try:
        await script.run(services.vote_cast, province="28", direction="up")
        version = (await script.run(selectors.voting_state_get)).version
    finally:
        await script.close()
    later = [asyncio.ensure_future(snapshot_of(namespace)) for _ in range(50)]
    await asyncio.sleep(0)
    release.set()
    await first
    answers = await asyncio.gather(*later)
    assert len(calls) == 2, "the 50 requests shared one read"
    assert all(a["version"] == version and counts_of(a)["28"] == 1 for a in answers)


async def test_with_several_workers_memory_is_never_served(namespace, map_reads):
    namespace.serve_from_memory = False
    await snapshot_of(namespace)
    await namespace.on_vote("sid-1", vote())
    await snapshot_of(namespace)
    assert len(map_reads) == 2


def test_one_worker_serves_from_memory_and_a_queue_turns_it_off(settings):
    settings.REDIS_URL, settings.MESSAGE_QUEUE_URL = "", ""
    assert sockets.MapDashboardNamespace("/m", presence=LocalPresence()).serve_from_memory
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert not sockets.MapDashboardNamespace("/m", presence=LocalPresence()).serve_from_memory


async def test_voting_marks_reads_revision_and_version(provinces):
    await sync_to_async(services.voting_set_open)(is_open=True)
    state = await sync_to_async(VotingState.objects.get)()
    assert await sync_to_async(selectors.voting_marks)() == (state.revision, state.version)
