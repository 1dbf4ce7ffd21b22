"""Model-based tests: the database path against a plain-Python model of the rules,
and the payload schema against arbitrary JSON."""

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from pydantic import ValidationError

from dashboard import services
from dashboard.models import Province, Vote
from dashboard.schemas import VotePayload
from dashboard.services import VoteRequest, vote_cast_batch

CODES = ["28", "08", "35", "99"]  # 99 does not exist
directions = st.sampled_from(["up", "down"])


class VotingMachine(RuleBasedStateMachine):
    """Random batches (with retried ids), resets and open/close, compared with a model."""

    @initialize()
    def clean(self):
        Vote.objects.all().delete()
        Province.objects.update(votes=0, active=True)
        services.voting_set_open(is_open=True)
        self.counts = {code: 0 for code in CODES[:3]}
        self.recorded: dict[uuid.UUID, str] = {}
        self.is_open = True
        self.known_ids: list[uuid.UUID] = []

    @rule(data=st.data(), size=st.integers(min_value=1, max_value=12))
    def batch(self, data, size):
        requests = []
        for _ in range(size):
            if self.known_ids and data.draw(st.booleans()):
                vote_id = data.draw(st.sampled_from(self.known_ids))  # a retry
            else:
                vote_id = uuid.uuid4()
                self.known_ids.append(vote_id)
            requests.append(VoteRequest(vote_id=vote_id, province=data.draw(st.sampled_from(CODES)),
                                        direction=data.draw(directions)))
        result = vote_cast_batch(requests=requests)
        for request, outcome in zip(requests, result.outcomes, strict=True):
            if request.vote_id in self.recorded:
                assert outcome.duplicate and outcome.province == self.recorded[request.vote_id]
            elif not self.is_open:
                assert outcome.error == "closed"
            elif request.province not in self.counts:
                assert outcome.error == "not_found"
            else:
                step = 1 if request.direction == "up" else -1
                self.counts[request.province] = max(0, self.counts[request.province] + step)
                self.recorded[request.vote_id] = request.province
                assert outcome.error is None and outcome.votes == self.counts[request.province]
        for outcome in result.outcomes:
            if outcome.duplicate:
                assert outcome.votes == self.counts[outcome.province]

    @rule()
    def reset(self):
        services.votes_reset()
        self.counts = dict.fromkeys(self.counts, 0)

    @rule(is_open=st.booleans())
    def open_or_close(self, is_open):
        services.voting_set_open(is_open=is_open)
        self.is_open = is_open

    @invariant()
    def database_matches_the_model(self):
        if not hasattr(self, "counts"):
            return
        stored = dict(Province.objects.filter(code__in=list(self.counts)).values_list("code", "votes"))
        assert stored == self.counts
        assert Vote.objects.count() == len(self.recorded)


@pytest.mark.django_db
def test_votes_follow_the_model(provinces):
    machine = VotingMachine.TestCase
    machine.settings = settings(max_examples=25, stateful_step_count=12, deadline=None,
                                suppress_health_check=[HealthCheck.function_scoped_fixture])
    machine().runTest()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
payload_keys = st.sampled_from(["province", "direction", "vote_id", "extra"])
payloads = st.dictionaries(
    payload_keys,
    st.one_of(json_values, st.sampled_from(["28", "08", "up", "down", str(uuid.uuid4()), "2８"])),
    max_size=4,
)


@given(st.one_of(payloads, json_values))
@settings(max_examples=400, deadline=None)
def test_vote_schema_accepts_exactly_the_contract(value):
    def valid(v):
        if not isinstance(v, dict) or not {"province", "direction"} <= set(v) or "extra" in v:
            return False
        province, direction = v["province"], v["direction"]
        if not (isinstance(province, str) and len(province) == 2 and all(c in "0123456789" for c in province)):
            return False
        if direction not in ("up", "down") or not isinstance(direction, str):
            return False
        vote_id = v.get("vote_id")
        if vote_id is None:
            return True
        try:
            return isinstance(vote_id, str) and uuid.UUID(vote_id).version == 4 and str(uuid.UUID(vote_id)) == vote_id.lower()
        except ValueError:
            return False

    try:
        VotePayload.model_validate(value)
    except ValidationError:
        assert not valid(value), value
    else:
        assert valid(value), value
