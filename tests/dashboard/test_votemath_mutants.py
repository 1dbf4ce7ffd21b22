"""Exact examples of the vote arithmetic, at the boundaries the properties may not hit.

Written against the mutants `make mutate` found alive: each test names the
mistake it rules out.
"""

import pytest

from dashboard import votemath
from dashboard.votemath import BatchEffect


def test_one_vote_at_and_above_the_floor():
    assert votemath.apply_step(0, 1) == 1
    assert votemath.apply_step(0, -1) == 0  # the floor
    assert votemath.apply_step(1, -1) == 0
    assert votemath.apply_step(5, -1) == 4  # not floored when above it
    assert votemath.apply_step(5, 1) == 6


def test_a_negative_count_is_refused_but_zero_is_not():
    with pytest.raises(ValueError, match="never negative"):
        votemath.apply_step(-1, 1)
    with pytest.raises(ValueError, match="never negative"):
        BatchEffect(net=1, floor=1).apply(-1)
    assert BatchEffect(net=-2, floor=0).apply(0) == 0  # `start <= 0` would refuse the common case


def test_apply_steps_lists_the_count_after_each_step():
    assert votemath.apply_steps(3, []) == []
    assert votemath.apply_steps(2, [-1, -1, -1, 1]) == [1, 0, 0, 1]
    assert votemath.apply_steps(0, [1, 1]) == [1, 2]


@pytest.mark.parametrize("steps,net,floor", [
    ([], 0, 0),
    ([1], 1, 1),
    ([-1], -1, 0),
    ([1, 1, 1], 3, 3),
    ([-1, -1, 1], -1, 1),  # lowest prefix -2: from 0 the walk ends at 1
    ([1, -1, -1], -1, 0),
    ([-1, -1, 1, 1, 1, -1], 0, 2),  # net 0 yet not the identity
])
def test_batch_effect_examples(steps, net, floor):
    assert votemath.batch_effect(steps) == BatchEffect(net=net, floor=floor)
    assert votemath.batch_effect(iter(steps)) == BatchEffect(net=net, floor=floor)  # any iterable, read once


@pytest.mark.parametrize("bad", [0, 2, -2, "1", None])
def test_a_step_other_than_plus_or_minus_one_is_refused(bad):
    with pytest.raises(ValueError, match="a step is"):
        votemath.batch_effect([1, bad])


def test_apply_takes_the_larger_of_sum_and_floor():
    effect = BatchEffect(net=-1, floor=1)
    assert [effect.apply(s) for s in range(4)] == [1, 1, 1, 2]
    assert BatchEffect(net=2, floor=2).apply(3) == 5


def test_directions_table():
    assert votemath.DIRECTIONS == {"up": 1, "down": -1}
    with pytest.raises(ValueError, match="sideways"):
        votemath.step_of("sideways")
    with pytest.raises(ValueError):
        votemath.step_of("UP")


def test_an_effect_is_a_value():
    import dataclasses

    effect = BatchEffect(net=1, floor=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        effect.net = 2  # shared between batches and threads: never changed in place
    assert hash(effect) == hash(BatchEffect(net=1, floor=1))
