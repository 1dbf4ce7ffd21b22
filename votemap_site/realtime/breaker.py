"""A circuit breaker: stop waiting for a dependency that is not answering.

The message queue (Redis or RabbitMQ) and the shared state (presence counts,
the map's commit-order lock: Redis, or PostgreSQL without Redis) are called on
the hot path: every vote batch publishes a delta, every tick reads a total.
When one of them is down, each call would wait for its timeout, one after the
other, and the votes queued behind them would wait too. A breaker in front of
each dependency turns a run of failures into "do not even try" for a while:

- **closed** (normal): calls go through; `failure_threshold` failures in a row
  open it (a success resets the count).
- **open**: `allow()` is False, so callers take their fallback at once (emit
  to this process's clients only, the local count, no order lock), until
  `reset_timeout` seconds have passed.
- **half_open**: one trial call is let through; its success closes the
  breaker, its failure opens it again for another `reset_timeout`. A trial
  that never reports (its caller was cancelled) is replaced by a new one after
  `reset_timeout`.

Pure state: no I/O and no tasks, a clock that tests inject (monotonic seconds).
Callers say what happened with `record_success()` / `record_failure()`, or use
`call()`, which also bounds the call with a timeout. `on_change` callbacks run
synchronously on each state change (metrics, logs, the presence heartbeat that
re-publishes counts when the breaker closes); they must not raise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger("votemap_site.realtime")

T = TypeVar("T")

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
STATES = (CLOSED, OPEN, HALF_OPEN)


class BreakerOpen(ConnectionError):
    """Raised by `CircuitBreaker.call` when the breaker refuses the call."""


class CircuitBreaker:
    def __init__(
        self,
        *,
        name: str,
        failure_threshold: int = 3,
        reset_timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout <= 0:
            raise ValueError("reset_timeout must be positive")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._state = CLOSED
        self._failures = 0  # consecutive, while closed
        self._since = clock()  # when the current state (or the trial in flight) began
        self._trial = False  # half_open: a trial call is in flight
        self.opened = 0  # times it opened (for /healthz)
        self.on_change: list[Callable[[CircuitBreaker, str, str], None]] = []

    # ----- state ----------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def is_closed(self) -> bool:
        return self._state == CLOSED

    def status(self) -> dict[str, object]:
        """For /healthz."""
        return {"state": self._state, "failures": self._failures, "opened": self.opened,
                "for_seconds": round(max(0.0, self._clock() - self._since), 3)}

    def _become(self, state: str) -> None:
        old, self._state = self._state, state
        self._since = self._clock()
        if state == OPEN:
            self.opened += 1
        if old != state:
            for callback in list(self.on_change):
                try:
                    callback(self, old, state)
                except Exception:  # a metric or log must never break the caller
                    log.exception("breaker %s: state-change callback failed", self.name)

    # ----- the protocol ---------------------------------------------------
    def allow(self) -> bool:
        """May a call go through now? In half_open, True for the one trial only."""
        if self._state == CLOSED:
            return True
        now = self._clock()
        if self._state == OPEN:
            if now - self._since < self.reset_timeout:
                return False
            self._become(HALF_OPEN)
            self._trial = True
            return True
        # half_open: one trial at a time; a trial that never reported is replaced.
        if self._trial and now - self._since < self.reset_timeout:
            return False
        self._since = now
        self._trial = True
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._trial = False
        if self._state != CLOSED:
            self._become(CLOSED)

    def record_failure(self) -> None:
        self._trial = False
        if self._state == CLOSED:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._failures = 0
                self._become(OPEN)
        else:  # a failed trial (or a late failure of a call let through before)
            self._become(OPEN)

    async def call(self, fn: Callable[[], Awaitable[T]], *, timeout: float) -> T:
        """`await fn()` within `timeout` seconds, if allowed; records the outcome.

        Raises BreakerOpen when refused, TimeoutError after `timeout`, or what
        `fn` raised. A cancelled call (the caller's own cancellation) records
        nothing."""
        if not self.allow():
            raise BreakerOpen(f"{self.name}: circuit open (failing fast)")
        try:
            async with asyncio.timeout(timeout):
                result = await fn()
        except asyncio.CancelledError:
            raise
        except BaseException:
            self.record_failure()
            raise
        self.record_success()
        return result
