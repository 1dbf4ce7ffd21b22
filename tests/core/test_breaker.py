"""The circuit breaker (votemap_site/realtime/breaker.py): pure state on an injected clock.

A Hypothesis state machine drives it with any sequence of calls, successes,
failures and clock steps and checks it against a small reference model of the
rules in the module's docstring; a few plain tests pin the rules down by name.
"""

import asyncio

import pytest
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from votemap_site.realtime.breaker import CLOSED, HALF_OPEN, OPEN, BreakerOpen, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(threshold: int = 3, reset: float = 2.0) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker(name="t", failure_threshold=threshold, reset_timeout=reset, clock=clock), clock


def test_opens_after_the_threshold_of_failures_in_a_row_only():
    breaker, _ = make(threshold=3)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    breaker.record_success()  # a success resets the run
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state == CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    assert not breaker.allow()


def test_half_open_lets_one_trial_through_and_its_outcome_decides():
    breaker, clock = make(threshold=1, reset=2.0)
    changes = []
    breaker.on_change.append(lambda b, old, new: changes.append((old, new)))
    breaker.record_failure()
    clock.now += 1.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow()  # the trial
    assert breaker.state == HALF_OPEN
    assert not breaker.allow()  # only one at a time
    breaker.record_failure()
    assert breaker.state == OPEN and not breaker.allow()
    clock.now += 2.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == CLOSED and breaker.allow()
    assert changes == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, OPEN), (OPEN, HALF_OPEN),
                       (HALF_OPEN, CLOSED)]
    assert breaker.opened == 2


def test_a_trial_that_never_reports_is_replaced_after_the_reset_timeout():
    breaker, clock = make(threshold=1, reset=2.0)
    breaker.record_failure()
    clock.now += 2.0
    assert breaker.allow()
    clock.now += 1.0
    assert not breaker.allow()
    clock.now += 1.0
    assert breaker.allow()


def test_a_failing_callback_does_not_break_the_caller():
    breaker, _ = make(threshold=1)
    breaker.on_change.append(lambda b, old, new: 1 / 0)
    breaker.record_failure()
    assert breaker.state == OPEN


async def test_call_bounds_the_call_records_it_and_refuses_while_open():
    breaker, clock = make(threshold=2, reset=2.0)

    async def slow():
        await asyncio.sleep(5)

    async def fine():
        return 42

    for _ in range(2):
        with pytest.raises(TimeoutError):
            await breaker.call(slow, timeout=0.01)
    assert breaker.state == OPEN
    with pytest.raises(BreakerOpen):
        await breaker.call(fine, timeout=1)
    clock.now += 2.0
    assert await breaker.call(fine, timeout=1) == 42
    assert breaker.state == CLOSED


class BreakerModel(RuleBasedStateMachine):
    """Any interleaving of allow / success / failure / time against a reference model."""

    def __init__(self) -> None:
        super().__init__()
        self.threshold = 3
        self.reset = 2.0
        self.breaker, self.clock = make(self.threshold, self.reset)
        self.states = [CLOSED]
        self.breaker.on_change.append(lambda b, old, new: self.states.append(new))
        # the model
        self.state = CLOSED
        self.failures = 0
        self.since = self.clock.now
        self.trial = False

    @rule(seconds=st.floats(min_value=0, max_value=5, allow_nan=False))
    def time_passes(self, seconds: float) -> None:
        self.clock.now += seconds

    @rule()
    def allow(self) -> None:
        now = self.clock.now
        if self.state == CLOSED:
            expected = True
        elif self.state == OPEN:
            expected = now - self.since >= self.reset
            if expected:
                self.state, self.since, self.trial = HALF_OPEN, now, True
        else:
            expected = not (self.trial and now - self.since < self.reset)
            if expected:
                self.since, self.trial = now, True
        assert self.breaker.allow() is expected

    @rule()
    def success(self) -> None:
        self.breaker.record_success()
        if self.state != CLOSED:
            self.since = self.clock.now
        self.state, self.failures, self.trial = CLOSED, 0, False

    @rule()
    def failure(self) -> None:
        self.breaker.record_failure()
        self.trial = False
        if self.state == CLOSED:
            self.failures += 1
            if self.failures >= self.threshold:
                self.state, self.failures, self.since = OPEN, 0, self.clock.now
        else:
            self.state, self.since = OPEN, self.clock.now

    @precondition(lambda self: self.state == OPEN)
    @rule()
    def open_refuses_until_the_reset_timeout(self) -> None:
        if self.clock.now - self.since < self.reset:
            assert not self.breaker.allow()

    @invariant()
    def same_state(self) -> None:
        assert self.breaker.state == self.state
        assert self.breaker.status()["state"] == self.state

    @invariant()
    def every_change_was_announced_once(self) -> None:
        assert self.states[-1] == self.breaker.state
        assert all(a != b for a, b in zip(self.states, self.states[1:], strict=False))
        # closed -> open only; open -> half_open only; half_open -> open or closed
        allowed = {(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, OPEN), (HALF_OPEN, CLOSED), (OPEN, CLOSED)}
        assert all((a, b) in allowed for a, b in zip(self.states, self.states[1:], strict=False))


TestBreakerModel = BreakerModel.TestCase
TestBreakerModel.settings = hyp_settings(max_examples=200, stateful_step_count=40, deadline=None)
