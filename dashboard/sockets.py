"""`/map-dashboard`: the live vote map (docs/protocol.md).

Events: `vote`, `get_snapshot`, `reset_votes` (staff) in; `snapshot`, `votes`,
`viewers` out. Handlers are thin: the base validates, the services write.

Group commit and acks
    `on_vote` queues the vote with a future and marks the flusher dirty. Once
    per tick (settings.DASHBOARD_TICK_MS; the first vote after a quiet spell
    goes at once) the flusher hands everything queued to
    `services.vote_cast_batch`, ONE transaction, and only after it has
    committed resolves the futures, so every ack is for a durable vote. A
    database error answers the whole batch `internal` (the client retries
    with the same `vote_id`; nothing was committed).

Deltas and versions with several workers
    Each worker broadcasts the `votes` delta of its own batches only, through
    the client manager (with REDIS_URL, Redis pub/sub reaches every worker's
    clients), so no change is sent twice. The version is a column of the
    voting state row, advanced in the SAME transaction as the counts it
    describes; every batch takes that row's lock first (PostgreSQL FOR
    UPDATE, SQLite IMMEDIATE), so versions are gap-free and site-wide, survive
    restarts, and need no separate counter that could disagree with the data.
    Publish order must match version order too: a worker holds a short shared
    lock (`<REDIS_KEY_PREFIX>map:commit`: a Redis lock, or with RabbitMQ and no
    Redis a PostgreSQL advisory lock; votemap_site/realtime/shared.py) from
    before its commit until its delta is published, so deltas enter the queue,
    and reach every client, in version order. With one worker a local lock
    does it.
    A delta carries absolute counts, so a client that missed one (a jump in
    `version`) is repaired by the snapshot it then asks for.

Admin changes and resets
    The admin (any process) and `reset_votes` only write the database: they
    advance the state row's `revision` (and `version` for resets) in their
    transaction. The site's one watcher (votemap_site/realtime/watcher.py)
    reads that revision once per tick while this worker has clients and,
    when it moved, this worker sends a fresh `snapshot` to its own clients
    (`ignore_queue`): every client gets exactly one, after the commit, however
    many workers there are, and even when the change came from a management
    command or another host (watcher.py says why polling, not publishing).

    Why the version lives in the database rather than in a Redis INCR or an
    in-process counter: it is then bumped atomically with the data it
    versions (no number without its change, no change without its number),
    one mechanism serves one worker and many, and a restart continues the
    sequence instead of starting again from a guess.

Faults (docs/deployment.md, "Faults")
    Votes waiting for their commit are bounded (DASHBOARD_MAX_PENDING_VOTES):
    beyond it `vote` answers `rate_limited` with `retry_after`, nothing is
    queued, and the page retries with the same `vote_id`. The commit-order lock
    is behind the shared-state breaker (shared.py) and the delta's publish
    behind the message queue's (broadcast.py), each with a short timeout:
    while Redis or RabbitMQ does not answer, batches commit without the lock
    and deltas reach this worker's clients only, so acks are not held by the
    outage; clients of other workers see a jump in `version` once the queue
    is back and repair it with a snapshot.

Threads and snapshots (docs/protocol.md, "Snapshots")
    The group commit runs on a database thread of its own (`DbThread`, so
    its own connection), never in the queue of the shared `db()` thread that
    every namespace's reads go through: a burst of connects (identity
    lookups, snapshots) or chat posts does not delay the vote acks. With
    SQLite in WAL mode the reader and the writer connection do not block each
    other.
    Snapshots are served from what this worker already knows when it is
    the only one emitting deltas (no REDIS_URL or MESSAGE_QUEUE_URL): the
    last snapshot read, with each of its own committed batches applied in
    version order BEFORE that batch's delta is sent. So a snapshot from memory
    is never older than anything a client has received from this worker. It
    is dropped (the next request reads the database) when a batch's version
    does not follow it (another writer, e.g. a script, committed in between),
    when the watcher sees a new revision (an admin change) or a database
    version beyond it (read on every tick), and while nobody is connected.
    With several workers other workers' deltas reach this worker's clients
    without passing through it, so every snapshot is read from the database:
    requests that arrive while a read is in flight share the NEXT read (one
    that starts after they arrived, so it includes whatever they have seen),
    and connects share the one in flight.

Viewers
    On the same tick, after the check, the viewer total over all workers
    (`presence.total`) is read and sent as `viewers` to this worker's clients
    when it changed: at once after a quiet spell, then at most once per
    DASHBOARD_VIEWERS_INTERVAL_MS (a join storm changes it on every tick).
    While votes wait for the next group commit, a due count is sent right
    after that batch's delta instead (at most one tick later), so each
    connection gets both frames in one write.

A large audience (dashboard/audience.py)
    Each delta costs one socket write per connection, so the tick grows with
    this worker's connections (DASHBOARD_TICK_PER_CONNECTION_US) up to
    DASHBOARD_TICK_MAX_MS, re-read on every tick; while a room connects (at
    least DASHBOARD_JOIN_STORM_PER_SECOND new connections in the last second)
    it is DASHBOARD_TICK_MAX_MS, so the joins get most of the core. A connection costs no
    thread hop of its own: anonymous identities need no database, session
    lookups are batched (base.py), and concurrent connects share one snapshot
    read.
"""

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings

from votemap_site.metrics import COMMIT_BATCH_SIZE
from votemap_site.realtime.base import BaseNamespace
from votemap_site.realtime.broadcast import JsonFragment, SharedPayload, reuses_encodings
from votemap_site.realtime.dbaccess import DbThread, db
from votemap_site.realtime.errors import FORBIDDEN, INTERNAL, RATE_LIMITED, RealtimeError
from votemap_site.realtime.identity import Identity
from votemap_site.realtime.permissions import staff_permission_check
from votemap_site.realtime.presence import Presence
from votemap_site.realtime.ratelimit import RateLimit
from votemap_site.realtime.shared import OrderLock, build_order_lock
from votemap_site.realtime.ticker import Ticker
from votemap_site.realtime.watcher import Watcher

from .audience import tick_during_joins, tick_for_audience, viewers_due
from .schemas import GetSnapshotPayload, ResetVotesPayload, VotePayload
from .selectors import map_snapshot, voting_marks
from .services import VoteOutcome, VoteRequest, vote_cast_batch, votes_reset

log = logging.getLogger("dashboard")

# Votes committed in one transaction at most; more wait for the next tick.
MAX_BATCH = 5000
COMMIT_LOCK_SUFFIX = "map:commit"  # after settings.REDIS_KEY_PREFIX
# Held for one commit and one publish (milliseconds). A worker killed while holding
# it delays the others by at most this long (its expiry in Redis).
COMMIT_LOCK_TIMEOUT = 2.0
# How long a batch waits for a live holder; past it, it goes on without the lock
# (only the order in which clients receive deltas is at stake, never the data).
# Above one publish's timeout (SOCKETIO_QUEUE_TIMEOUT_SECONDS), so a holder
# whose publish is failing is waited for, and short enough that a vote is
# acked within about a second whatever the holder does.
COMMIT_LOCK_WAIT = 0.75
# What the admin's "Reset ALL votes" action requires (dashboard/admin.py,
# VotingStateAdmin.reset_all: permissions=["change"] on VotingState).
RESET_PERMISSION = "dashboard.change_votingstate"


class MapDashboardNamespace(BaseNamespace):
    lobby_stat = "map"
    schemas = {
        "vote": VotePayload,
        "get_snapshot": GetSnapshotPayload,
        "reset_votes": ResetVotesPayload,
    }

    def __init__(self, namespace: str, *, presence: Presence) -> None:
        super().__init__(namespace, presence=presence)
        # Read when the server is built, so deployments (and tests) can change them.
        self.rate_limits = {
            "vote": RateLimit(per_second=settings.DASHBOARD_VOTE_RATE, burst=settings.DASHBOARD_VOTE_BURST),
        }
        self.tick = self.base_tick = max(0.005, settings.DASHBOARD_TICK_MS / 1000.0)
        self.tick_ceiling = max(self.base_tick, settings.DASHBOARD_TICK_MAX_MS / 1000.0)
        self.tick_per_connection = max(0.0, settings.DASHBOARD_TICK_PER_CONNECTION_US / 1e6)
        self.viewers_interval = max(0.0, settings.DASHBOARD_VIEWERS_INTERVAL_MS / 1000.0)
        self.join_storm_threshold = max(0.0, settings.DASHBOARD_JOIN_STORM_PER_SECOND)
        # New connections in the current one-second window, and in the last whole one.
        self._joins_window_start = time.monotonic()
        self._joins_now = 0
        self._joins_last_second = 0
        self.max_pending = max(1, settings.DASHBOARD_MAX_PENDING_VOTES)
        self._pending: list[tuple[VoteRequest, asyncio.Future[VoteOutcome]]] = []
        self._flusher: Ticker | None = None
        self._local_lock: asyncio.Lock | None = None
        self._order_lock: OrderLock | None = None
        self._accepting = False
        # Admin changes: `seen` is the revision this worker's clients have been
        # sent (None while it has none).
        self._watcher: Watcher[int] = Watcher(
            name="map-watch", interval=self.tick, read=self._poll_revision, changed=self._admin_changed,
            active=self._watch_active, then=self._after_watch,
        )
        self._viewers_sent: int | None = None
        self._viewers_sent_at = 0.0
        # A due viewer count held back for the next delta (see `_push_viewers`).
        self._viewers_with_delta: int | None = None
        # (version, open, revision), its provinces' JSON, the viewer total, its payload
        self._connect_frame: (
            tuple[tuple[int, bool, int], JsonFragment, int | None, SharedPayload | None] | None) = None
        # The group commit's own database thread (started in `start`).
        self._writer: DbThread | None = None
        # Snapshot reads: the one in flight, and the one queued to start after it.
        self._read_now: asyncio.Future[dict[str, Any]] | None = None
        self._read_next: asyncio.Future[dict[str, Any]] | None = None
        # What this worker knows of the map (a snapshot, revision included), kept
        # current by its own batches; None when unknown. Only served when this
        # worker is the only one sending deltas (see the module docstring).
        self._known: dict[str, Any] | None = None
        self.serve_from_memory = not (settings.REDIS_URL or settings.MESSAGE_QUEUE_URL)
        self._polled_version: int | None = None  # the database's version at the last watcher poll
        self._sent_version = -1  # the newest version of this worker's deltas sent so far
        # For tests and benchmarks.
        self.batches_committed = 0

    # ----- lifecycle -----------------------------------------------------
    async def start(self) -> None:
        self._local_lock = asyncio.Lock()
        self._writer = DbThread("map-writer")
        self._order_lock = build_order_lock(COMMIT_LOCK_SUFFIX, timeout=COMMIT_LOCK_TIMEOUT,
                                            wait=COMMIT_LOCK_WAIT, breaker=self.shared_breaker)
        self._flusher = Ticker(name="map-votes", interval=self.tick, callback=self._flush)
        self._flusher.start()
        self._watcher.start()
        self._accepting = True

    async def stop(self) -> None:
        self._accepting = False
        await self._watcher.stop()
        if self._flusher and self._local_lock:
            async with self._local_lock:  # never cancel a batch between commit and acks
                await self._flusher.stop()
            while self._pending:  # what was queued before shutdown still gets committed and acked
                await self._flush()
        if self._order_lock is not None:
            await self._order_lock.close()
            self._order_lock = None
        if self._writer is not None:
            await self._writer.close()
            self._writer = None

    async def connected(self, sid: str, identity: Identity, environ: dict[str, Any]) -> None:
        self._joins_now += 1
        snapshot = await self._read_snapshot(shared=True)
        seen = self._watcher.seen
        if seen is None:
            self._watcher.seen = snapshot["revision"]
        elif snapshot["revision"] < seen:
            # An admin change was pushed while this read was in flight: read again.
            snapshot = await self._read_snapshot(shared=False)
        await self.emit("snapshot", await self._connect_snapshot(snapshot), to=sid, ignore_queue=True)

    async def _connect_snapshot(self, snapshot: dict[str, Any]) -> Any:
        """The `snapshot` for a new connection, with the provinces' JSON encoded once
        per version and the same object (so the same frame) for every connection
        that gets the same viewer total (broadcast.py SharedPayload, JsonFragment).
        Sent locally (`ignore_queue`): the connection is this worker's, and a trip
        through the message queue per connect would cost every worker a decode."""
        viewers = await self.presence.total(self.presence_key)
        if not reuses_encodings(self.server.manager):  # python-socketio's stock managers
            return self._public(snapshot, viewers)
        state = (snapshot["version"], snapshot["open"], snapshot["revision"])
        cached = self._connect_frame
        if cached is None or cached[0] != state:
            cached = self._connect_frame = (state, JsonFragment(snapshot["provinces"]), None, None)
        if cached[2] != viewers:
            shared = SharedPayload(self._public(snapshot, viewers, provinces=cached[1]))
            cached = self._connect_frame = (state, cached[1], viewers, shared)
        return cached[3]

    # ----- events --------------------------------------------------------
    async def on_vote(self, sid: str, payload: VotePayload) -> dict[str, Any]:
        if not self._accepting or self._flusher is None:
            raise RealtimeError(INTERNAL, "the server is shutting down; retry with the same vote_id")
        if len(self._pending) >= self.max_pending:
            # The database is not keeping up (or not answering): refuse rather
            # than queue without bound. One tick per full batch waiting, at least.
            raise RealtimeError(
                RATE_LIMITED, "too many votes are waiting to be stored; retry with the same vote_id",
                retry_after=max(0.5, self.tick * math.ceil(len(self._pending) / MAX_BATCH)),
            )
        request = VoteRequest(
            vote_id=uuid.UUID(payload.vote_id) if payload.vote_id else uuid.uuid4(),
            province=payload.province,
            direction=payload.direction,
            voter=self.identity(sid).public_id,
        )
        future: asyncio.Future[VoteOutcome] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        self._flusher.mark_dirty()
        outcome = await future
        return outcome.ack()

    async def on_get_snapshot(self, sid: str, payload: GetSnapshotPayload) -> dict[str, Any]:
        # The viewer count of the last tick: a client asking again and again costs
        # no presence read (a Redis or PostgreSQL round trip with several workers).
        return await self._public_snapshot(await self._read_snapshot(shared=False), recent_viewers=True)

    async def on_reset_votes(self, sid: str, payload: ResetVotesPayload) -> dict[str, Any]:
        identity = self.identity(sid)
        # Rights as they are now, not as they were when the socket connected:
        # a logout, demotion or lost permission takes effect on open sockets too.
        allowed = identity.is_staff and await db(
            staff_permission_check, session_key=identity.session_key, user_id=identity.user_id,
            permission=RESET_PERMISSION,
        )
        if not allowed:
            raise RealtimeError(
                FORBIDDEN,
                "resetting the votes needs a logged-in, active staff account "
                "with the right to change the voting state",
            )
        version = await db(votes_reset)
        log.info("votes reset by staff user %s (version %s)", identity.username, version)
        # Every worker's watcher sees the new revision and sends its clients a snapshot.
        return {"version": version}

    # ----- snapshots -----------------------------------------------------
    async def _read_snapshot(self, *, shared: bool) -> dict[str, Any]:
        """A consistent snapshot, never older than what this worker has sent.

        From memory when it is known and may be served (module docstring);
        otherwise from the database: `shared` joins a read already in flight
        (a burst of connections costs one query, not one each), else the
        caller gets a read that starts after this call, shared with every
        other caller that arrives before it starts. The result is read-only
        (it may be memory's own copy)."""
        known = self._known
        if self.serve_from_memory and known is not None and known["revision"] >= (self._watcher.seen or 0):
            return known
        current = self._read_now
        if current is not None and not current.done():
            if shared:
                return await asyncio.shield(current)
            if self._read_next is None:
                self._read_next = asyncio.ensure_future(self._read_after(current))
            return await asyncio.shield(self._read_next)
        self._read_now = asyncio.ensure_future(self._read_database())
        return await asyncio.shield(self._read_now)

    async def _read_after(self, current: asyncio.Future[dict[str, Any]]) -> dict[str, Any]:
        with contextlib.suppress(Exception):  # its own callers hear of its failure
            await current
        self._read_next = None
        self._read_now = asyncio.ensure_future(self._read_database())
        return await self._read_now

    async def _read_database(self) -> dict[str, Any]:
        snapshot = await db(map_snapshot)
        self._learn(snapshot)
        return snapshot

    def _learn(self, snapshot: dict[str, Any]) -> None:
        """Keep a snapshot read from the database when it is newer than memory."""
        if snapshot["version"] < self._sent_version:
            return  # read before a batch whose delta has gone out since: older than what clients have
        known = self._known
        if known is None or (snapshot["version"] >= known["version"]
                             and snapshot["revision"] >= known["revision"]):
            self._known = snapshot
        elif snapshot["version"] > known["version"] or snapshot["revision"] > known["revision"]:
            self._known = None  # newer in one respect, older in the other: trust neither

    def _learn_batch(self, version: int, changed: dict[str, int]) -> None:
        """One of this worker's batches committed (called before its delta is sent)."""
        known = self._known
        if known is None or version <= known["version"]:
            return  # unknown, or a read after the commit already has it
        if version != known["version"] + 1 or not changed:
            self._known = None  # another writer committed in between: read again
            return
        # A new list (the old one may be on its way to a client), same order and names.
        provinces = [
            {**province, "votes": changed[province["code"]]} if province["code"] in changed else province
            for province in known["provinces"]
        ]
        self._known = {**known, "version": version, "provinces": provinces}

    async def _public_snapshot(self, snapshot: dict[str, Any], *,
                               recent_viewers: bool = False) -> dict[str, Any]:
        viewers = self._viewers_sent if recent_viewers else None
        if viewers is None:
            viewers = await self.presence.total(self.presence_key)
        return self._public(snapshot, viewers)

    @staticmethod
    def _public(snapshot: dict[str, Any], viewers: int, *, provinces: Any = None) -> dict[str, Any]:
        """The `snapshot` event's data (without the server's `revision`)."""
        return {
            "version": snapshot["version"],
            "open": snapshot["open"],
            "viewers": viewers,
            "provinces": snapshot["provinces"] if provinces is None else provinces,
        }

    # ----- the tick: group commit ----------------------------------------
    @contextlib.asynccontextmanager
    async def _commit_order(self) -> AsyncIterator[None]:
        """Held from before a batch's commit until its delta is published."""
        assert self._local_lock is not None
        async with self._local_lock:
            lock = self._order_lock
            # Bounded and behind the shared-state breaker (GuardedOrderLock):
            # False, at once while the breaker is open, means "go on without it".
            held = lock is not None and await lock.acquire()
            try:
                yield
            finally:
                if held and lock is not None:
                    await lock.release()

    async def _flush(self) -> None:
        try:
            await self._commit_batch()
        finally:
            # A viewer count held back for this tick goes out right after its delta:
            # same loop iteration, so each connection gets both in one write.
            viewers, self._viewers_with_delta = self._viewers_with_delta, None
            if viewers is not None:
                await self._emit_viewers(viewers)

    async def _commit_batch(self) -> None:
        if not self._pending:
            return
        async with self._commit_order():
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            if not batch:
                return
            assert self._writer is not None
            try:
                # The group commit's own thread and connection: never queued behind other reads.
                result = await self._writer.run(vote_cast_batch, requests=[request for request, _ in batch])
            except Exception:
                log.exception("namespace=%s: committing %d votes failed", self.namespace, len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(
                            RealtimeError(INTERNAL, "the vote could not be stored; retry with the same vote_id")
                        )
                return
            finally:
                if self._pending and self._flusher is not None:
                    self._flusher.mark_dirty()
            self.batches_committed += 1
            COMMIT_BATCH_SIZE.observe(len(batch))
            # Committed: now the acks may go out.
            for (_, future), outcome in zip(batch, result.outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
            delta = result.delta
            # Memory first: a snapshot served after this delta must include it.
            self._learn_batch(result.version, result.changed)
            self._sent_version = max(self._sent_version, result.version)
            if delta is not None:
                try:
                    await self.emit("votes", delta)
                except Exception:
                    log.exception("namespace=%s: broadcasting version %s failed", self.namespace, result.version)

    # ----- the tick: admin changes and viewers ---------------------------
    def _poll_revision(self) -> int:
        """The watcher's read (on the database thread): the revision, and the version
        for `_after_watch`, both from one row."""
        revision, self._polled_version = voting_marks()
        return revision

    def _watch_active(self) -> bool:
        if self.connection_count() > 0:
            return True
        # Nobody is told of changes now, so memory would not hear of them either.
        self._known = None
        return False

    async def _after_watch(self) -> None:
        polled, self._polled_version = self._polled_version, None
        known = self._known
        if polled is not None and known is not None and polled > known["version"]:
            # Committed by another writer (or by this worker's batch just now: one read too many).
            self._known = None
        await self._push_viewers()

    async def _admin_changed(self, revision: int) -> int:
        """The watcher saw a new revision: send this worker's clients a snapshot."""
        assert self._local_lock is not None
        async with self._local_lock:  # not between a batch's commit and its delta
            self._known = None  # it predates the change: read the database
            snapshot = await self._read_snapshot(shared=False)
            # The snapshot may already include later changes: they need no second
            # one. Recorded before the emit, so a client connecting meanwhile
            # whose own snapshot is older reads again (see `connected`).
            seen = self._watcher.seen = max(revision, snapshot["revision"])
            await self.emit("snapshot", await self._public_snapshot(snapshot), ignore_queue=True)
        return seen

    def _adapt_tick(self) -> None:
        """The tick for this worker's audience (dashboard/audience.py); the tickers
        read their interval on every run, so it applies from the next one."""
        now = time.monotonic()
        if now - self._joins_window_start >= 1.0:
            elapsed = now - self._joins_window_start
            self._joins_last_second = round(self._joins_now / elapsed)
            self._joins_window_start, self._joins_now = now, 0
        tick = tick_for_audience(self.connection_count(), base=self.base_tick,
                                 per_connection=self.tick_per_connection, ceiling=self.tick_ceiling)
        tick = tick_during_joins(tick, joins_per_second=self._joins_last_second,
                                 threshold=self.join_storm_threshold, ceiling=self.tick_ceiling)
        if tick != self.tick:
            self.tick = tick
            if self._flusher is not None:
                self._flusher.interval = tick
            self._watcher.ticker.interval = tick

    async def _push_viewers(self) -> None:
        self._adapt_tick()
        if self.connection_count() == 0:
            self._viewers_sent = None
            return
        viewers = await self.presence.total(self.presence_key)
        now = time.monotonic()
        if viewers_due(count=viewers, sent=self._viewers_sent, now=now, sent_at=self._viewers_sent_at,
                       min_interval=self.viewers_interval):
            self._viewers_sent, self._viewers_sent_at = viewers, now
            if self._pending and self._accepting:
                # A batch waits for the next tick (within one tick): the count rides
                # along with its delta instead of costing every connection one more
                # write (with 10,000 viewers, a write per viewer is ~70 ms of CPU).
                self._viewers_with_delta = viewers
            else:
                await self._emit_viewers(viewers)

    async def _emit_viewers(self, viewers: int) -> None:
        try:
            await self.emit("viewers", {"count": viewers}, ignore_queue=True)
        except Exception:
            log.exception("namespace=%s: sending the viewer count failed", self.namespace)
