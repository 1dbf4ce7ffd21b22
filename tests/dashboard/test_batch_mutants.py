"""Exact expectations of the group commit (dashboard.services.vote_cast_batch), for the mutants
`make mutate` found alive: what is stored per vote, what each outcome says, and the edge cases."""

import uuid
from datetime import UTC, datetime

import pytest

from dashboard import services
from dashboard.models import Province, Vote, VotingState
from dashboard.services import BatchResult, VoteOutcome, VoteRequest, vote_cast, vote_cast_batch
from votemap_site.realtime.errors import CLOSED, NOT_FOUND, RealtimeError

pytestmark = pytest.mark.django_db


def req(province="28", direction="up", vote_id=None, voter="v1"):
    return VoteRequest(vote_id=vote_id or uuid.uuid4(), province=province, direction=direction, voter=voter)


def set_count(code, votes):
    Province.objects.filter(code=code).update(votes=votes)


def test_each_vote_row_records_what_it_did(provinces):
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    up, down, floored = req("28", "up", voter="a" * 40), req("28", "down", voter="b"), req("28", "down", voter="")
    vote_cast_batch(requests=[up, down, floored], now=now)
    rows = {v.vote_id: v for v in Vote.objects.all()}
    assert (rows[up.vote_id].direction, rows[up.vote_id].applied) == ("up", 1)
    assert (rows[down.vote_id].direction, rows[down.vote_id].applied) == ("down", -1)
    assert (rows[floored.vote_id].direction, rows[floored.vote_id].applied) == ("down", 0)
    assert rows[up.vote_id].voter == "a" * 32  # the column's length, never more
    assert rows[down.vote_id].voter == "b" and rows[floored.vote_id].voter == ""
    assert {r.province_id for r in rows.values()} == {"28"}
    assert {r.created_at for r in rows.values()} == {now}


def test_the_batch_effect_applies_on_top_of_existing_counts(provinces):
    set_count("28", 5)
    set_count("08", 1)
    before = dict(Province.objects.values_list("code", "updated_at"))
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    result = vote_cast_batch(requests=[req("28", "down"), req("28", "down"), req("28", "down"), req("28", "up"),
                                       req("08", "down"), req("08", "down"), req("08", "up")], now=now)
    assert [o.votes for o in result.outcomes] == [4, 3, 2, 3, 0, 0, 1]
    assert dict(Province.objects.filter(code__in=["28", "08"]).values_list("code", "votes")) == {"28": 3, "08": 1}
    assert result.changed == {"28": 3}  # 08 ended where it started
    # Only the province whose count changed is written.
    assert Province.objects.get(code="28").updated_at == now
    assert Province.objects.get(code="08").updated_at == before["08"]


def test_outcomes_of_refused_votes_and_retries(provinces):
    recorded = req("28")
    first = vote_cast_batch(requests=[recorded, req("28")])
    version = first.version
    result = vote_cast_batch(requests=[req("99"), recorded, req("08"), recorded])
    unknown, retry, accepted, retry_again = result.outcomes
    assert result.version == version + 1
    assert unknown == VoteOutcome(province="99", votes=0, version=version + 1, error=NOT_FOUND)
    # A retry is acked with its province's count after the whole batch, at the batch's version.
    assert retry == VoteOutcome(province="28", votes=2, version=version + 1, duplicate=True)
    assert retry_again == retry
    assert accepted == VoteOutcome(province="08", votes=1, version=version + 1)
    services.voting_set_open(is_open=False)
    closed = vote_cast_batch(requests=[req("28"), recorded])
    assert closed.outcomes[0] == VoteOutcome(province="28", votes=0, version=version + 1, error=CLOSED)
    assert closed.outcomes[1].duplicate and closed.outcomes[1].votes == 2 and closed.outcomes[1].error is None
    assert closed.changed == {} and closed.delta is None and closed.version == version + 1


def test_an_outcomes_ack(provinces):
    assert VoteOutcome(province="28", votes=3, version=7).ack() == {"province": "28", "votes": 3, "version": 7}
    assert VoteOutcome(province="28", votes=3, version=7, duplicate=True).ack() == {
        "province": "28", "votes": 3, "version": 7}
    for code in (CLOSED, NOT_FOUND):
        with pytest.raises(RealtimeError) as exc:
            VoteOutcome(province="28", votes=0, version=7, error=code).ack()
        assert exc.value.code == code
    VoteOutcome(province="28", votes=0, version=7).raise_for_error()  # no error: nothing raised


def test_a_batch_result_delta():
    assert BatchResult(outcomes=[], version=4).delta is None
    changed = {"28": 2}
    delta = BatchResult(outcomes=[], version=4, changed=changed).delta
    assert delta == {"version": 4, "counts": {"28": 2}}
    delta["counts"]["28"] = 99
    assert changed == {"28": 2}  # the event is a copy


def test_bad_calls_are_refused_and_store_nothing(provinces):
    with pytest.raises(ValueError):
        vote_cast_batch(requests=[])
    with pytest.raises(ValueError):
        vote_cast(province="28", direction="sideways")
    assert Vote.objects.count() == 0 and VotingState.objects.get(pk=1).version == 0


def test_a_missing_state_row_is_created_by_the_first_batch(provinces):
    VotingState.objects.all().delete()
    result = vote_cast_batch(requests=[req("28")])
    assert result.version == 1 and result.outcomes[0].votes == 1
    state = VotingState.objects.get(pk=1)
    assert state.version == 1 and state.is_open


def test_vote_cast_accepts_ids_as_text_and_keeps_the_voter(provinces):
    vote_id = uuid.uuid4()
    outcome = vote_cast(province="28", direction="up", vote_id=str(vote_id), voter="ana")
    assert outcome.votes == 1 and not outcome.duplicate
    row = Vote.objects.get()
    assert row.vote_id == vote_id and row.voter == "ana"
