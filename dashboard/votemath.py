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
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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

    @property
    def is_identity(self) -> bool:
        """True when the batch leaves every starting count unchanged (e.g. `+1, -1`)."""
        return self.net == 0 and self.floor == 0


def batch_effect(steps: Sequence[int] | Iterable[int]) -> BatchEffect:
    net = 0
    lowest = 0
    for step in steps:
        if step not in (1, -1):
            raise ValueError(f"a step is +1 or -1, not {step!r}")
        net += step
        lowest = min(lowest, net)
    return BatchEffect(net=net, floor=net - lowest)


def combine(first: BatchEffect, second: BatchEffect) -> BatchEffect:
    """The effect of `first` followed by `second` (associative, like the walk)."""
    # second(first(s)) = max(max(s + n1, f1) + n2, f2) = max(s + n1 + n2, max(f1 + n2, f2))
    return BatchEffect(net=first.net + second.net, floor=max(first.floor + second.net, second.floor))
