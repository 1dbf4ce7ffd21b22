"""The counter rule (up +1, down -1, never below 0 per vote) and the batch formula."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard import votemath

steps = st.lists(st.sampled_from([1, -1]), max_size=200)
starts = st.integers(min_value=0, max_value=10_000)


def test_floor_makes_order_matter():
    assert votemath.apply_steps(0, [1, -1, -1]) == [1, 0, 0]
    assert votemath.apply_steps(0, [-1, -1, 1]) == [0, 0, 1]


def test_directions():
    assert votemath.step_of("up") == 1
    assert votemath.step_of("down") == -1
    with pytest.raises(ValueError):
        votemath.step_of("sideways")
    with pytest.raises(ValueError):
        votemath.batch_effect([2])
    with pytest.raises(ValueError):
        votemath.apply_step(-1, 1)


@given(starts, steps)
def test_never_negative_and_moves_by_at_most_one(start, batch):
    count = start
    for after in votemath.apply_steps(start, batch):
        assert after >= 0
        assert abs(after - count) <= 1
        count = after


@given(starts, steps)
def test_batch_effect_equals_applying_each_vote_in_order(start, batch):
    expected = votemath.apply_steps(start, batch)[-1] if batch else start
    assert votemath.batch_effect(batch).apply(start) == expected


@given(starts, st.integers(min_value=0, max_value=300))
def test_only_up_votes_add_up(start, n):
    assert votemath.batch_effect([1] * n).apply(start) == start + n


@given(starts, steps, steps)
def test_combining_batches_is_applying_them_one_after_the_other(start, first, second):
    combined = votemath.combine(votemath.batch_effect(first), votemath.batch_effect(second))
    assert combined == votemath.batch_effect(first + second)
    assert combined.apply(start) == votemath.batch_effect(second).apply(votemath.batch_effect(first).apply(start))


@given(steps)
def test_identity_effect_changes_nothing(batch):
    effect = votemath.batch_effect(batch)
    if effect.is_identity:
        assert all(effect.apply(s) == s for s in range(5))
    else:
        assert any(effect.apply(s) != s for s in range(5))
