"""Writes of the vote map (sync; called through `db()` from the namespace, or from the admin).

Group commit: the namespace queues the votes that arrive within one tick and
hands them to `vote_cast_batch`, which applies them all in ONE transaction:

1. Lock the voting state row (PostgreSQL `SELECT ... FOR UPDATE`; SQLite's
   IMMEDIATE transactions already hold the database's write lock). Every
   writer of counters takes this lock first, so batches from several worker
   processes are applied one after the other and the site-wide `version`
   (a column of that row) advances by exactly one per batch that changed a count.
2. Look up which `vote_id`s are already recorded (a retry is acked with the
   current count and not counted again) and lock the affected provinces.
3. Plan the batch with no database at all (`votemath.plan_batch`, pure and
   property-tested): walk the votes in arrival order with the per-vote floor
   at zero to know each vote's resulting count for its ack, each province's
   whole effect, and whether the version advances.
4. Insert the new `Vote` rows (`INSERT ... ON CONFLICT (vote_id) DO NOTHING`,
   so the unique `vote_id` guards against a double count even if the lookup
   were wrong) and update each changed province with one atomic statement
   equivalent to `votes = GREATEST(votes + net, floor)`, the batch's effect as
   computed by `votemath.batch_effect`. Plain parameterised SQL run with
   `executemany`: for hundreds of votes per tick, ORM expressions cost more
   CPU than the database work.
5. Bump `version` when a count changed.

Every other write that clients must reload after (reset, open/close, a
province shown or hidden) goes through `_state_revise`: the same lock first,
then the change, then `revision` (and for a reset `version`) advanced in the
same transaction.

The caller resolves the votes' acks only after this function has returned,
i.e. after the commit: an acked vote is durable.
"""

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import F
from django.utils import timezone

from votemap_site.realtime.errors import CLOSED, NOT_FOUND, RealtimeError

from . import votemath
from .ine import PROVINCES
from .models import STATE_PK, Province, Vote, VotingState
from .selectors import StateInfo, voting_state_get


@dataclass(frozen=True, slots=True)
class VoteRequest:
    vote_id: uuid.UUID
    province: str
    direction: str
    voter: str = ""


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    province: str
    votes: int
    version: int
    error: str | None = None  # CLOSED or NOT_FOUND; None when accepted (or a retry)
    duplicate: bool = False  # a retry of an already recorded vote_id

    def raise_for_error(self) -> None:
        if self.error == CLOSED:
            raise RealtimeError(CLOSED, "voting is closed")
        if self.error == NOT_FOUND:
            raise RealtimeError(NOT_FOUND, f"no active province {self.province!r}")

    def ack(self) -> dict[str, object]:
        self.raise_for_error()
        return {"province": self.province, "votes": self.votes, "version": self.version}


@dataclass(frozen=True, slots=True)
class BatchResult:
    outcomes: list[VoteOutcome]
    # The state version after the batch, and the province counts that changed (absolute).
    version: int
    changed: dict[str, int] = field(default_factory=dict)

    @property
    def delta(self) -> dict[str, object] | None:
        """The `votes` event of this batch, or None when no count changed."""
        if not self.changed:
            return None
        return {"version": self.version, "counts": dict(self.changed)}


def _state_for_update() -> VotingState:
    state = VotingState.objects.select_for_update().filter(pk=STATE_PK).first()
    if state is None:  # a database flushed by tests, or created without migrations' data
        VotingState.objects.get_or_create(pk=STATE_PK)
        state = VotingState.objects.select_for_update().get(pk=STATE_PK)
    return state


class _BatchSql:
    """The few statements of a group commit, as plain parameterised SQL.

    A tick can carry hundreds of votes; building them through ORM expressions
    cost more CPU than the database work itself. The SQL is portable between
    SQLite (3.24+) and PostgreSQL; `FOR UPDATE` is added where it exists.
    """

    def __init__(self) -> None:
        q = connection.ops.quote_name
        self.vote = q(Vote._meta.db_table)
        self.province = q(Province._meta.db_table)
        self.state = q(VotingState._meta.db_table)
        self.for_update = " FOR UPDATE" if connection.features.has_select_for_update else ""
        self.uuid_field = Vote._meta.get_field("vote_id")
        self.time_field = Vote._meta.get_field("created_at")

    @staticmethod
    def marks(n: int) -> str:
        return ", ".join(["%s"] * n)


def _lock_state(cursor: CursorWrapper, sql: _BatchSql) -> tuple[bool, int]:
    """Step 1: take the lock that orders all writers; returns (is_open, version)."""
    lock_state = f"SELECT is_open, version FROM {sql.state} WHERE id = %s{sql.for_update}"
    cursor.execute(lock_state, [STATE_PK])
    row = cursor.fetchone()
    if row is None:  # a database flushed by tests, or created without the migrations' data
        VotingState.objects.get_or_create(pk=STATE_PK)
        cursor.execute(lock_state, [STATE_PK])
        row = cursor.fetchone()
    return bool(row[0]), int(row[1])


def _read_batch(
    cursor: CursorWrapper, sql: _BatchSql, requests: Sequence[VoteRequest], db_id: dict[uuid.UUID, object]
) -> tuple[dict[uuid.UUID, str], dict[str, tuple[bool, int]]]:
    """Step 2: the batch's vote ids already recorded, and its provinces (locked, by code)."""
    ids = list(set(db_id.values()))
    cursor.execute(f"SELECT vote_id, province_id FROM {sql.vote} WHERE vote_id IN ({sql.marks(len(ids))})", ids)
    recorded = {sql.uuid_field.to_python(vote_id): code for vote_id, code in cursor.fetchall()}
    codes = sorted({r.province for r in requests} | set(recorded.values()))
    cursor.execute(
        f"SELECT code, active, votes FROM {sql.province} WHERE code IN ({sql.marks(len(codes))})"
        f" ORDER BY code{sql.for_update}",
        codes,
    )
    provinces = {code: (bool(active), int(votes)) for code, active, votes in cursor.fetchall()}
    return recorded, provinces


def _apply_plan(
    cursor: CursorWrapper, sql: _BatchSql, requests: Sequence[VoteRequest], plan: votemath.BatchPlan,
    db_id: dict[uuid.UUID, object], now: datetime,
) -> None:
    """Step 4: write what the plan says (step 3, the plan itself, is pure: votemath.plan_batch)."""
    created_at = sql.time_field.get_db_prep_value(now, connection)
    rows = [
        (db_id[request.vote_id], request.province, request.direction, planned.applied, request.voter[:32],
         created_at)
        for request, planned in zip(requests, plan.votes, strict=True)
        if planned.kind == votemath.ACCEPTED
    ]
    if rows:
        # ON CONFLICT DO NOTHING: the unique vote_id is the last line of defence against a double count.
        cursor.executemany(
            f"INSERT INTO {sql.vote} (vote_id, province_id, direction, applied, voter, created_at)"
            f" VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (vote_id) DO NOTHING",
            rows,
        )
    if plan.changed:
        # One atomic statement per province: the batch's whole effect, GREATEST(votes + net, floor).
        params = []
        for code in sorted(plan.changed):
            effect = plan.effects[code]
            params.append((effect.net, effect.floor, effect.net, effect.floor, created_at, code))
        cursor.executemany(
            f"UPDATE {sql.province} SET votes = CASE WHEN votes + %s > %s THEN votes + %s ELSE %s END,"
            f" updated_at = %s WHERE code = %s",
            params,
        )
        # Step 5, in the same transaction as the counts it versions.
        cursor.execute(f"UPDATE {sql.state} SET version = version + 1 WHERE id = %s", [STATE_PK])


def _outcome(planned: votemath.PlannedVote, version: int) -> VoteOutcome:
    if planned.kind == votemath.ACCEPTED:
        return VoteOutcome(province=planned.province, votes=planned.votes, version=version)
    if planned.kind == votemath.DUPLICATE:
        return VoteOutcome(province=planned.province, votes=planned.votes, version=version, duplicate=True)
    return VoteOutcome(province=planned.province, votes=0, version=version, error=planned.kind)


def vote_cast_batch(*, requests: Sequence[VoteRequest], now: datetime | None = None) -> BatchResult:
    """Apply a tick's votes in arrival order, in one transaction (see the module docstring)."""
    if not requests:
        raise ValueError("an empty batch")
    now = now or timezone.now()
    sql = _BatchSql()
    db_id = {r.vote_id: sql.uuid_field.get_db_prep_value(r.vote_id, connection) for r in requests}
    with transaction.atomic(), connection.cursor() as cursor:
        is_open, version = _lock_state(cursor, sql)
        recorded, provinces = _read_batch(cursor, sql, requests, db_id)
        plan = votemath.plan_batch(
            requests, is_open=is_open, provinces=provinces, recorded=recorded, version=version
        )
        _apply_plan(cursor, sql, requests, plan, db_id, now)
    return BatchResult(
        outcomes=[_outcome(planned, plan.version) for planned in plan.votes],
        version=plan.version, changed=plan.changed,
    )


def vote_cast(
    *, province: str, direction: str, vote_id: uuid.UUID | str | None = None, voter: str = ""
) -> VoteOutcome:
    """One vote in its own transaction (scripts, the admin, tests); raises RealtimeError
    for `closed` / `not_found`. The namespace batches votes with `vote_cast_batch` instead."""
    if direction not in votemath.DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")
    request = VoteRequest(
        vote_id=uuid.UUID(str(vote_id)) if vote_id is not None else uuid.uuid4(),
        province=province, direction=direction, voter=voter,
    )
    outcome = vote_cast_batch(requests=[request]).outcomes[0]
    outcome.raise_for_error()
    return outcome


def _state_revise(*, change: Callable[[], object] | None = None, version: bool = False,
                  **fields: object) -> StateInfo:
    """The shape of every write that clients must reload after, in one transaction:
    lock the state row first (the lock that orders every writer, vote batches
    included, so no deadlock and no batch in between), make `change`, then
    advance `revision` (every worker's watcher sends its clients a snapshot)
    and, with `version`, `version` (clients drop deltas older than it), and set
    `fields` on the row. Returns the state after."""
    with transaction.atomic():
        _state_for_update()
        if change is not None:
            change()
        updates: dict[str, object] = {"revision": F("revision") + 1, "updated_at": timezone.now(), **fields}
        if version:
            updates["version"] = F("version") + 1
        VotingState.objects.filter(pk=STATE_PK).update(**updates)
        return voting_state_get()


def votes_reset(*, codes: Iterable[str] | None = None) -> int:
    """Set the counters of `codes` (all provinces when None) to 0; returns the new version.

    The vote log is kept (audit, and so a retried old `vote_id` is still not counted
    again). Advances `version` (clients drop older deltas) and `revision` (every
    client gets a fresh snapshot).
    """

    def zero() -> None:
        provinces = Province.objects.all()
        if codes is not None:
            provinces = provinces.filter(code__in=list(codes))
        provinces.exclude(votes=0).update(votes=0, updated_at=timezone.now())

    return _state_revise(change=zero, version=True).version


def voting_set_open(*, is_open: bool) -> int:
    """Open or close voting; returns the new revision (clients get a snapshot)."""
    return _state_revise(is_open=is_open).revision


def state_touch() -> int:
    """Record that provinces changed in a way clients must reload (name, active flag).

    Call it inside the transaction that made the change; returns the new revision.
    """
    return _state_revise().revision


def province_set_active(*, codes: Iterable[str], active: bool) -> int:
    """Show or hide provinces on the map; returns how many changed."""
    with transaction.atomic():
        _state_for_update()  # first, like every writer (a vote batch locks it before provinces)
        changed = Province.objects.filter(code__in=list(codes)).exclude(active=active).update(
            active=active, updated_at=timezone.now()
        )
        if changed:
            state_touch()
        return changed


def provinces_seed() -> int:
    """Create missing provinces and the state row (never touches existing rows); returns how many were created."""
    with transaction.atomic():
        existing = set(Province.objects.values_list("code", flat=True))
        created = Province.objects.bulk_create(
            [Province(code=code, name=name) for code, name in PROVINCES if code not in existing]
        )
        VotingState.objects.get_or_create(pk=STATE_PK)
        return len(created)
