"""The one periodic loop of the site: every app's timed work runs on a `Ticker`.

Apps mark state dirty, the ticker runs one coalesced update: never one
broadcast per change, many changes within one interval become one call to
`callback`. With `always=True` the callback runs every tick instead (state
that other processes change and that can only be polled: presence in Redis,
the database through watcher.py, a game arena's clock).

The schedule does not drift: each run is due one interval after the previous
one was due, and a run that is late (a busy loop) is not followed by a burst
of catch-up runs. A callback may end its own loop by returning `Ticker.STOP`
(a game arena nobody is in); `start()` starts it again.

Each run's duration goes to the `votemap_tick_seconds` histogram, labelled
with the ticker's name up to its first colon: the game's per-arena tickers
(`grid-game:<slug>`) share one series, so admins creating arenas do not
create series.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import ClassVar

from votemap_site import metrics

log = logging.getLogger(__name__)


class _Stop:
    def __repr__(self) -> str:
        return "Ticker.STOP"


class Ticker:
    STOP: ClassVar[_Stop] = _Stop()

    def __init__(
        self,
        *,
        name: str,
        interval: float,
        callback: Callable[[], Awaitable[object]],
        always: bool = False,
        error_log_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.name = name
        self.interval = interval
        self.callback = callback
        self.always = always
        # A callback failing on every tick (the database or Redis is down) is
        # logged once per this many seconds, not 20 times a second.
        self.error_log_interval = error_log_interval
        # Injected by tests, which drive the loop on a simulated clock.
        self._clock = clock
        self._sleep = sleep
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._error_logged = float("-inf")
        self._duration = metrics.TICK_SECONDS.labels(name.partition(":")[0])

    def mark_dirty(self) -> None:
        self._dirty.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._dirty = asyncio.Event()  # bound to the running loop
            self._task = asyncio.create_task(self._run(), name=f"ticker:{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        next_at = self._clock()
        while True:
            if not self.always:
                await self._dirty.wait()
            next_at = max(next_at + self.interval, self._clock())
            await self._sleep(max(0.0, next_at - self._clock()))
            self._dirty.clear()
            # Wall time, not self._clock: the simulated clocks of the tests
            # must not fill the histogram with invented durations.
            started = time.perf_counter()
            try:
                if await self.callback() is Ticker.STOP:
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                now = self._clock()
                if now - self._error_logged >= self.error_log_interval:
                    self._error_logged = now
                    log.exception("ticker %s: callback failed", self.name)
            finally:
                self._duration.observe(time.perf_counter() - started)
