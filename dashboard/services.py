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
3. Walk the votes in arrival order with the per-vote floor at zero
   (dashboard.votemath) to know each vote's resulting count for its ack.
4. Insert the new `Vote` rows (`INSERT ... ON CONFLICT (vote_id) DO NOTHING`,
   so the unique `vote_id` guards against a double count even if the lookup
   were wrong) and update each changed province with one atomic statement
   equivalent to `votes = GREATEST(votes + net, floor)`, the batch's effect as
   computed by `votemath.batch_effect`. Plain parameterised SQL run with
   `executemany`: for hundreds of votes per tick, ORM expressions cost more
   CPU than the database work.
5. Bump `version` when a count changed.

The caller resolves the votes' acks only after this function has returned,
i.e. after the commit: an acked vote is durable.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from votemap_site.realtime.errors import CLOSED, NOT_FOUND, RealtimeError

from . import votemath
from .ine import PROVINCES
from .models import STATE_PK, Province, Vote, VotingState


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


def vote_cast_batch(*, requests: Sequence[VoteRequest], now: datetime | None = None) -> BatchResult:
    """Apply a tick's votes in arrival order, in one transaction (see the module docstring)."""
    if not requests:
        raise ValueError("an empty batch")
    now = now or timezone.now()
    sql = _BatchSql()
    db_id = {r.vote_id: sql.uuid_field.get_db_prep_value(r.vote_id, connection) for r in requests}
    with transaction.atomic(), connection.cursor() as cursor:
        # The lock on the state row orders all writers (SQLite: the IMMEDIATE transaction's lock).
        lock_state = f"SELECT is_open, version FROM {sql.state} WHERE id = %s{sql.for_update}"
        cursor.execute(lock_state, [STATE_PK])
        row = cursor.fetchone()
        if row is None:  # a database flushed by tests, or created without the migrations' data
            VotingState.objects.get_or_create(pk=STATE_PK)
            cursor.execute(lock_state, [STATE_PK])
            row = cursor.fetchone()
        is_open, version = bool(row[0]), int(row[1])
        ids = list(set(db_id.values()))
        cursor.execute(f"SELECT vote_id, province_id FROM {sql.vote} WHERE vote_id IN ({sql.marks(len(ids))})", ids)
        existing = {sql.uuid_field.to_python(vote_id): code for vote_id, code in cursor.fetchall()}
        codes = sorted({r.province for r in requests} | set(existing.values()))
        cursor.execute(
            f"SELECT code, active, votes FROM {sql.province} WHERE code IN ({sql.marks(len(codes))})"
            f" ORDER BY code{sql.for_update}",
            codes,
        )
        provinces = {code: (bool(active), int(votes)) for code, active, votes in cursor.fetchall()}
        counts = {code: votes for code, (_, votes) in provinces.items()}
        steps: dict[str, list[int]] = defaultdict(list)
        recorded = dict(existing)  # vote_id -> province, including this batch's
        rows: list[tuple[object, ...]] = []
        created_at = sql.time_field.get_db_prep_value(now, connection)
        # (kind, province, count) per request; versions are filled in once known.
        results: list[tuple[str, str, int]] = []
        for request in requests:
            if request.vote_id in recorded:
                results.append(("duplicate", recorded[request.vote_id], -1))
                continue
            if not is_open:
                results.append((CLOSED, request.province, 0))
                continue
            province = provinces.get(request.province)
            if province is None or not province[0]:
                results.append((NOT_FOUND, request.province, 0))
                continue
            step = votemath.step_of(request.direction)
            before = counts[request.province]
            after = votemath.apply_step(before, step)
            counts[request.province] = after
            steps[request.province].append(step)
            recorded[request.vote_id] = request.province
            rows.append(
                (db_id[request.vote_id], request.province, request.direction, after - before,
                 request.voter[:32], created_at)
            )
            results.append(("ok", request.province, after))

        changed = {code: counts[code] for code in steps if counts[code] != provinces[code][1]}
        if rows:
            # ON CONFLICT DO NOTHING: the unique vote_id is the last line of defence against a double count.
            cursor.executemany(
                f"INSERT INTO {sql.vote} (vote_id, province_id, direction, applied, voter, created_at)"
                f" VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (vote_id) DO NOTHING",
                rows,
            )
        if changed:
            # One atomic statement per province: the batch's whole effect, GREATEST(votes + net, floor).
            params = []
            for code in sorted(changed):
                effect = votemath.batch_effect(steps[code])
                params.append((effect.net, effect.floor, effect.net, effect.floor, created_at, code))
            cursor.executemany(
                f"UPDATE {sql.province} SET votes = CASE WHEN votes + %s > %s THEN votes + %s ELSE %s END,"
                f" updated_at = %s WHERE code = %s",
                params,
            )
            cursor.execute(f"UPDATE {sql.state} SET version = version + 1 WHERE id = %s", [STATE_PK])
            version += 1

    outcomes = []
    for kind, code, count in results:
        if kind == "ok":
            outcomes.append(VoteOutcome(province=code, votes=count, version=version))
        elif kind == "duplicate":
            outcomes.append(VoteOutcome(province=code, votes=counts.get(code, 0), version=version, duplicate=True))
        else:
            outcomes.append(VoteOutcome(province=code, votes=0, version=version, error=kind))
    return BatchResult(outcomes=outcomes, version=version, changed=changed)


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


def votes_reset(*, codes: Iterable[str] | None = None) -> int:
    """Set the counters of `codes` (all provinces when None) to 0; returns the new version.

    The vote log is kept (audit, and so a retried old `vote_id` is still not counted
    again). Advances `version` (clients drop older deltas) and `revision` (every
    client gets a fresh snapshot).
    """
    with transaction.atomic():
        _state_for_update()
        provinces = Province.objects.all()
        if codes is not None:
            provinces = provinces.filter(code__in=list(codes))
        provinces.exclude(votes=0).update(votes=0, updated_at=timezone.now())
        VotingState.objects.filter(pk=STATE_PK).update(
            version=F("version") + 1, revision=F("revision") + 1, updated_at=timezone.now()
        )
        return VotingState.objects.values_list("version", flat=True).get(pk=STATE_PK)


def voting_set_open(*, is_open: bool) -> int:
    """Open or close voting; returns the new revision (clients get a snapshot)."""
    with transaction.atomic():
        _state_for_update()
        VotingState.objects.filter(pk=STATE_PK).update(
            is_open=is_open, revision=F("revision") + 1, updated_at=timezone.now()
        )
        return VotingState.objects.values_list("revision", flat=True).get(pk=STATE_PK)


def state_touch() -> int:
    """Record that provinces changed in a way clients must reload (name, active flag).

    Call it inside the transaction that made the change; returns the new revision.
    """
    with transaction.atomic():
        _state_for_update()
        VotingState.objects.filter(pk=STATE_PK).update(revision=F("revision") + 1, updated_at=timezone.now())
        return VotingState.objects.values_list("revision", flat=True).get(pk=STATE_PK)


def province_set_active(*, codes: Iterable[str], active: bool) -> int:
    """Show or hide provinces on the map; returns how many changed."""
    with transaction.atomic():
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
