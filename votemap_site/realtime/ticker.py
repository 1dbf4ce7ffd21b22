"""A small periodic loop: apps mark state dirty, the ticker emits one coalesced update.

Never one broadcast per change: many changes within one interval become one
call to `callback`. With `always=True` the callback runs every tick (for state
that other workers change, polled from Redis).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Ticker:
    def __init__(
        self,
        *,
        name: str,
        interval: float,
        callback: Callable[[], Awaitable[None]],
        always: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.name = name
        self.interval = interval
        self.callback = callback
        self.always = always
        # Injected by tests, which drive the loop on a simulated clock.
        self._clock = clock
        self._sleep = sleep
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

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
            try:
                await self.callback()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ticker %s: callback failed", self.name)
