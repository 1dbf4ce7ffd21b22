"""Vote arithmetic of the map, free of Django and Socket.IO.

The rule from the talk: a vote `up` adds one, `down` subtracts one, and a
counter never goes below zero. The floor is applied to each vote as it
arrives, so order matters: from 0, `+1, -1, -1` ends at 0 but `-1, -1, +1`
ends at 1.

A batch of steps (each +1 or -1) applied in order with that per-step floor is
a "reflected walk". Its whole effect on any starting value `s` is

    final(s) = max(s + net, net - lowest)

where `net` is the sum of the steps and `lowest` the minimum prefix sum
(including the empty prefix, so `lowest <= 0`). `BatchEffect` carries those
two numbers, so the database applies a whole tick's votes for a province in
one atomic statement: `votes = GREATEST(votes + net, floor)`.

`plan_batch` is a whole tick's batch worked out before anything is written:
which votes count (a retried `vote_id` does not), the count each vote's ack
reports, the per-province effects, and whether the version advances. The
services only lock, read what it needs, and write what it says.
"""

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

UP = "up"
DOWN = "down"
DIRECTIONS = {UP: 1, DOWN: -1}


def step_of(direction: str) -> int:
    """+1 for `up`, -1 for `down`; anything else is a ValueError."""
    try:
        return DIRECTIONS[direction]
    except KeyError:
        raise ValueError(f"unknown direction {direction!r}") from None


def apply_step(count: int, step: int) -> int:
    """One vote with the floor at zero."""
    if count < 0:
        raise ValueError("a count is never negative")
    return max(0, count + step)


def apply_steps(start: int, steps: Iterable[int]) -> list[int]:
    """The count after each step, in order (the per-vote floor)."""
    counts = []
    count = start
    for step in steps:
        count = apply_step(count, step)
        counts.append(count)
    return counts


@dataclass(frozen=True, slots=True)
class BatchEffect:
    """The effect of a sequence of steps on any starting count."""

    net: int
    floor: int  # the result when the walk starts at 0: net - lowest prefix sum, >= 0

    def apply(self, start: int) -> int:
        if start < 0:
            raise ValueError("a count is never negative")
        return max(start + self.net, self.floor)


def batch_effect(steps: Sequence[int] | Iterable[int]) -> BatchEffect:
    net = 0
    lowest = 0
    for step in steps:
        if step not in (1, -1):
            raise ValueError(f"a step is +1 or -1, not {step!r}")
        net += step
        lowest = min(lowest, net)
    return BatchEffect(net=net, floor=net - lowest)


# ----- a batch of votes, planned -------------------------------------------
# What happened to one vote of a batch. CLOSED and NOT_FOUND are also the
# protocol's error codes, which the services answer them with.
ACCEPTED = "ok"
DUPLICATE = "duplicate"
CLOSED = "closed"
NOT_FOUND = "not_found"


class BallotLike(Protocol):
    @property
    def vote_id(self) -> Hashable: ...
    @property
    def province(self) -> str: ...
    @property
    def direction(self) -> str: ...


@dataclass(frozen=True, slots=True)
class PlannedVote:
    kind: str  # ACCEPTED, DUPLICATE, CLOSED or NOT_FOUND
    province: str  # for a duplicate: the province its first copy was counted for
    # ACCEPTED: the province's count right after this vote; DUPLICATE: the count
    # at the end of the batch; otherwise 0.
    votes: int
    applied: int = 0  # what an accepted vote changed (+1, -1, or 0 at the floor)


@dataclass(frozen=True, slots=True)
class BatchPlan:
    votes: list[PlannedVote]  # one per ballot, in order
    # Per province with accepted votes: its steps' whole effect (one statement each).
    effects: dict[str, BatchEffect]
    # Provinces whose count the batch changed, with their absolute count after it.
    changed: dict[str, int]
    version: int  # after the batch: one more than before when any count changed


def plan_batch(
    ballots: Sequence[BallotLike],
    *,
    is_open: bool,
    provinces: Mapping[str, tuple[bool, int]],
    recorded: Mapping[Hashable, str],
    version: int,
) -> BatchPlan:
    """What a batch does, in arrival order, before anything is written.

    `provinces` maps a code to (active, current count); `recorded` maps the
    vote ids already in the vote log to their province. A vote id seen before
    (in the log or earlier in this batch) is a retry: counted once. Each
    accepted vote moves its province by one with the floor at zero; `version`
    advances by one when the batch changed any count, never otherwise.
    """
    counts = {code: votes for code, (_, votes) in provinces.items()}
    seen = dict(recorded)
    steps: dict[str, list[int]] = {}
    planned: list[tuple[str, str, int, int]] = []
    for ballot in ballots:
        if ballot.vote_id in seen:
            planned.append((DUPLICATE, seen[ballot.vote_id], 0, 0))
            continue
        if not is_open:
            planned.append((CLOSED, ballot.province, 0, 0))
            continue
        province = provinces.get(ballot.province)
        if province is None or not province[0]:
            planned.append((NOT_FOUND, ballot.province, 0, 0))
            continue
        step = step_of(ballot.direction)
        before = counts[ballot.province]
        after = apply_step(before, step)
        counts[ballot.province] = after
        steps.setdefault(ballot.province, []).append(step)
        seen[ballot.vote_id] = ballot.province
        planned.append((ACCEPTED, ballot.province, after, after - before))
    changed = {code: counts[code] for code in steps if counts[code] != provinces[code][1]}
    votes = [
        PlannedVote(kind=kind, province=code, votes=counts.get(code, 0) if kind == DUPLICATE else count,
                    applied=applied)
        for kind, code, count, applied in planned
    ]
    return BatchPlan(
        votes=votes,
        effects={code: batch_effect(province_steps) for code, province_steps in steps.items()},
        changed=changed,
        version=version + 1 if changed else version,
    )
