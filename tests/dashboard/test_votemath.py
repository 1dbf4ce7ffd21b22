"""The counter rule (up +1, down -1, never below 0 per vote) and the batch formula."""

from typing import NamedTuple

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


# ----- plan_batch: a tick's batch worked out before anything is written -----
class Ballot(NamedTuple):
    vote_id: int
    province: str
    direction: str


CODES = ["01", "02", "03"]
ballots = st.lists(
    st.builds(Ballot, vote_id=st.integers(0, 30), province=st.sampled_from(CODES + ["99"]),
              direction=st.sampled_from(["up", "down"])),
    max_size=60,
)
province_states = st.fixed_dictionaries(
    {code: st.tuples(st.booleans(), st.integers(0, 5)) for code in CODES}
)
recorded_ids = st.dictionaries(st.integers(20, 40), st.sampled_from(CODES), max_size=5)
versions = st.integers(0, 10_000)


def replay_one_by_one(batch, provinces, recorded, is_open):
    """The rule applied vote by vote, the slow obvious way."""
    counts = {code: votes for code, (_, votes) in provinces.items()}
    seen = dict(recorded)
    after = []
    for ballot in batch:
        if ballot.vote_id in seen:
            after.append(("duplicate", seen[ballot.vote_id]))
        elif not is_open:
            after.append(("closed", None))
        elif ballot.province not in provinces or not provinces[ballot.province][0]:
            after.append(("not_found", None))
        else:
            counts[ballot.province] = max(0, counts[ballot.province] + votemath.DIRECTIONS[ballot.direction])
            seen[ballot.vote_id] = ballot.province
            after.append(("ok", counts[ballot.province]))
    return counts, after


@given(ballots, province_states, recorded_ids, st.booleans(), versions)
def test_a_planned_batch_is_the_rule_applied_vote_by_vote(batch, provinces, recorded, is_open, version):
    plan = votemath.plan_batch(batch, is_open=is_open, provinces=provinces, recorded=recorded, version=version)
    counts, expected = replay_one_by_one(batch, provinces, recorded, is_open)
    assert len(plan.votes) == len(batch)
    for planned, (kind, value) in zip(plan.votes, expected, strict=True):
        assert planned.kind == kind
        if kind == "ok":
            assert planned.votes == value >= 0
        elif kind == "duplicate":
            # A retry is acked with its province's count at the end of the batch.
            assert planned.province == value and planned.votes == counts.get(value, 0)
        else:
            assert planned.votes == 0 and planned.applied == 0
    # The effects, applied once per province, give the same counts as the walk.
    for code, (_, start) in provinces.items():
        effect = plan.effects.get(code)
        assert (effect.apply(start) if effect else start) == counts[code]
    assert plan.changed == {code: counts[code] for code in provinces if counts[code] != provinces[code][1]}
    # The version moves by exactly one when a count changed, never otherwise.
    assert plan.version == version + (1 if plan.changed else 0)


@given(ballots, province_states, versions)
def test_a_vote_id_is_counted_once_however_often_it_comes(batch, provinces, version):
    once = votemath.plan_batch(batch, is_open=True, provinces=provinces, recorded={}, version=version)
    twice = votemath.plan_batch(batch + batch, is_open=True, provinces=provinces, recorded={}, version=version)
    assert twice.changed == once.changed and twice.version == once.version
    # In the second copy every id counted in the first is a retry; the others are refused again.
    counted = {b.vote_id for b, p in zip(batch, once.votes, strict=True) if p.kind == "ok"}
    for ballot, first, again in zip(batch, once.votes, twice.votes[len(batch):], strict=True):
        assert again.kind == ("duplicate" if ballot.vote_id in counted else first.kind)
    # A retry of a batch already in the vote log changes nothing at all.
    logged = {b.vote_id: b.province for b, p in zip(batch, once.votes, strict=True) if p.kind == "ok"}
    retried = votemath.plan_batch(
        [b for b in batch if b.vote_id in logged], is_open=True, provinces=provinces, recorded=logged,
        version=version,
    )
    assert retried.changed == {} and retried.effects == {} and retried.version == version


@given(province_states, versions)
def test_a_closed_vote_or_unknown_province_changes_nothing(provinces, version):
    batch = [Ballot(1, "01", "up"), Ballot(2, "99", "up")]
    closed = votemath.plan_batch(batch, is_open=False, provinces=provinces, recorded={}, version=version)
    assert [p.kind for p in closed.votes] == ["closed", "closed"]
    assert closed.changed == {} and closed.version == version
    unknown = votemath.plan_batch(batch[1:], is_open=True, provinces=provinces, recorded={}, version=version)
    assert unknown.votes[0].kind == "not_found" and unknown.version == version


def test_a_down_vote_at_zero_is_accepted_without_a_change():
    plan = votemath.plan_batch([Ballot(1, "01", "down")], is_open=True, provinces={"01": (True, 0)},
                               recorded={}, version=7)
    assert plan.votes[0] == votemath.PlannedVote(kind="ok", province="01", votes=0, applied=0)
    assert plan.changed == {} and plan.version == 7
