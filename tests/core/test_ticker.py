"""The ticker coalesces many changes into one callback per interval.

The loop runs on a simulated clock: its sleeps are recorded and end only when
the test says so, so the assertions are about what it does (how many flushes,
how long it asked to wait, in which order) and hold however busy the machine is.
"""

import asyncio
import logging

import pytest

from tests.helpers import async_wait_until
from votemap_site.realtime.ticker import Ticker


class SimulatedTime:
    """A clock that moves only when the ticker's sleep ends, and that ends only on `wake()`."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.requests: list[float] = []  # every sleep the ticker asked for, in seconds
        self._gate: asyncio.Future[None] | None = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.requests.append(seconds)
        self._gate = asyncio.get_running_loop().create_future()
        await self._gate
        self.now += seconds

    @property
    def sleeping(self) -> bool:
        return self._gate is not None and not self._gate.done()

    async def wake(self) -> None:
        await async_wait_until(lambda: self.sleeping, message="the ticker waiting out its interval")
        self._gate.set_result(None)


def make_ticker(time: SimulatedTime, callback, **kwargs) -> Ticker:
    return Ticker(name="t", interval=0.1, callback=callback, clock=time.clock, sleep=time.sleep, **kwargs)


async def test_many_changes_in_one_interval_make_one_callback() -> None:
    time = SimulatedTime()
    flushed_at: list[float] = []

    async def flush() -> None:
        flushed_at.append(time.now)

    ticker = make_ticker(time, flush)
    ticker.start()
    try:
        for _ in range(50):
            ticker.mark_dirty()
        await async_wait_until(lambda: time.sleeping, message="the ticker waiting before its first flush")
        assert time.requests == [pytest.approx(0.1)]  # one interval after start
        for _ in range(50):  # more changes while it waits
            ticker.mark_dirty()
        assert flushed_at == []
        await time.wake()
        await async_wait_until(lambda: flushed_at, message="the first flush")
        # The flush and the return to waiting happen in one step of the loop:
        # nothing is dirty any more, so it did not ask to sleep again.
        assert flushed_at == [pytest.approx(1000.1)]
        assert len(time.requests) == 1 and not time.sleeping

        # A change soon after a flush waits for the rest of the interval ...
        time.now += 0.03
        ticker.mark_dirty()
        await time.wake()
        await async_wait_until(lambda: len(flushed_at) == 2, message="the second flush")
        assert time.requests[-1] == pytest.approx(0.07)
        assert flushed_at[1] - flushed_at[0] == pytest.approx(0.1)

        # ... and one after a quiet spell goes out at once.
        time.now += 5
        ticker.mark_dirty()
        await time.wake()
        await async_wait_until(lambda: len(flushed_at) == 3, message="the third flush")
        assert time.requests[-1] == 0
        assert len(time.requests) == 3
    finally:
        await ticker.stop()
    assert not ticker.running


async def test_a_change_made_during_a_flush_gets_its_own_flush() -> None:
    time = SimulatedTime()
    calls = 0

    async def flush() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            ticker.mark_dirty()  # state changed while the first update was being sent

    ticker = make_ticker(time, flush)
    ticker.start()
    try:
        ticker.mark_dirty()
        await time.wake()
        await async_wait_until(lambda: calls == 1)
        await time.wake()  # it asked to wait again: the change is not lost
        await async_wait_until(lambda: calls == 2)
        assert len(time.requests) == 2 and not time.sleeping
    finally:
        await ticker.stop()


async def test_a_failing_callback_does_not_stop_the_ticker(caplog) -> None:
    time = SimulatedTime()
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")

    ticker = make_ticker(time, flaky, always=True)  # runs every tick, nothing marked
    caplog.set_level(logging.ERROR, logger="votemap_site.realtime.ticker")
    ticker.start()
    try:
        for expected in (1, 2, 3):
            await time.wake()
            await async_wait_until(lambda: calls == expected, message=f"callback {expected}")
    finally:
        await ticker.stop()
    assert [r.getMessage() for r in caplog.records] == ["ticker t: callback failed"]
    assert not ticker.running


async def test_the_real_clock_and_sleep_are_the_defaults() -> None:
    done = asyncio.Event()

    async def flush() -> None:
        done.set()

    ticker = Ticker(name="real", interval=0.01, callback=flush)
    ticker.start()
    try:
        ticker.mark_dirty()
        await asyncio.wait_for(done.wait(), 15)  # a deadline, not a speed requirement
    finally:
        await ticker.stop()


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Ticker(name="t", interval=0, callback=None)


async def test_a_callback_returning_stop_ends_the_loop_until_started_again() -> None:
    time = SimulatedTime()
    calls = 0

    async def until_third() -> object:
        nonlocal calls
        calls += 1
        return Ticker.STOP if calls == 3 else None

    ticker = make_ticker(time, until_third, always=True)
    ticker.start()
    try:
        for expected in (1, 2, 3):
            await time.wake()
            await async_wait_until(lambda: calls == expected, message=f"callback {expected}")
        await async_wait_until(lambda: not ticker.running, message="the loop ending itself")
        assert len(time.requests) == 3 and not time.sleeping
        ticker.start()
        await time.wake()
        await async_wait_until(lambda: calls == 4, message="the restarted loop")
    finally:
        await ticker.stop()


async def test_a_callback_failing_every_tick_is_logged_once_per_interval(caplog) -> None:
    time = SimulatedTime()
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("database unavailable")

    ticker = make_ticker(time, down, always=True, error_log_interval=1.0)  # ten ticks
    caplog.set_level(logging.ERROR, logger="votemap_site.realtime.ticker")
    ticker.start()
    try:
        for expected in range(1, 16):
            await time.wake()
            await async_wait_until(lambda: calls == expected, message=f"callback {expected}")
    finally:
        await ticker.stop()
    # Fifteen failures over 1.5 s: logged on the first, and once more a second later.
    assert [r.getMessage() for r in caplog.records] == ["ticker t: callback failed"] * 2
