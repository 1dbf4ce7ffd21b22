"""Reads of the vote map (sync; through `db()` from the namespace, or from views)."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Subquery

from .models import STATE_PK, Province, VotingState


@dataclass(frozen=True, slots=True)
class StateInfo:
    is_open: bool
    version: int
    revision: int


def voting_state_get() -> StateInfo:
    row = VotingState.objects.filter(pk=STATE_PK).values_list("is_open", "version", "revision").first()
    if row is None:  # no state row yet: the defaults it will be created with
        return StateInfo(is_open=True, version=0, revision=0)
    return StateInfo(is_open=row[0], version=row[1], revision=row[2])


def voting_revision() -> int:
    """What the map's watcher polls: advanced by every change clients must reload."""
    revision = VotingState.objects.filter(pk=STATE_PK).values_list("revision", flat=True).first()
    return revision if revision is not None else 0


def voting_marks() -> tuple[int, int]:
    """`(revision, version)` of the state row in one read: the map's watcher polls both."""
    row = VotingState.objects.filter(pk=STATE_PK).values_list("revision", "version").first()
    return (row[0], row[1]) if row is not None else (0, 0)


def map_snapshot() -> dict[str, Any]:
    """The `snapshot` event without `viewers`: `{"version", "open", "revision", "provinces"}`.

    Read in ONE statement (the state through scalar subqueries), so counts and
    version always belong together, on SQLite and on PostgreSQL alike, without
    a transaction (which under SQLite's IMMEDIATE mode would take the write lock).
    `revision` is for the server (which change a snapshot reflects); the
    namespace leaves it out of what it sends.
    """
    state = VotingState.objects.filter(pk=STATE_PK)
    rows = list(
        Province.objects.filter(active=True)
        .order_by("code")
        .annotate(
            s_version=Subquery(state.values("version")[:1]),
            s_open=Subquery(state.values("is_open")[:1]),
            s_revision=Subquery(state.values("revision")[:1]),
        )
        .values_list("code", "name", "votes", "s_version", "s_open", "s_revision")
    )
    if rows:
        version, is_open, revision = rows[0][3], rows[0][4], rows[0][5]
        if version is None:  # no state row yet
            version, is_open, revision = 0, True, 0
    else:
        info = voting_state_get()
        version, is_open, revision = info.version, info.is_open, info.revision
    return {
        "version": int(version),
        "open": bool(is_open),
        "revision": int(revision),
        "provinces": [{"code": code, "name": name, "votes": int(votes)} for code, name, votes, *_ in rows],
    }


def province_counts() -> list[tuple[str, str, bool, int]]:
    """(code, name, active, votes) of every province, by code (CSV export, reports)."""
    return list(Province.objects.order_by("code").values_list("code", "name", "active", "votes"))
