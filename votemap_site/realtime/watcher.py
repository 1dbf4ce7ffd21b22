"""How every app learns that the database changed outside this process.

The admin, a management command, another worker or another host can change
what this worker's clients are shown (voting opened, a room renamed, a message
deleted, an arena closed). None of them can reach this worker's event loop,
so each app polls: a `Watcher` reads a cheap marker of the app's shared state
(a revision column, the last moderation event id, ...) once per interval
through `db()`, and calls the app's `changed(marker)` only when the marker
differs from the last one its clients were brought up to. Every worker does
it for its own clients, so every client hears of a change exactly once,
after the commit, however many workers there are.

Polling rather than publishing from the writer after its commit: the writer
may be a process without an event loop (the admin, a script), and a writer
that dies between commit and publish would lose the push; a poll only delays
it by one interval. The cost is one small read per interval per worker, and
none while `active()` says nobody here could be told.

`seen` is the marker the clients have been brought up to; an app sets it
itself when it sends fresh state by other means (the map's snapshot on
connect). `changed` may return a newer marker than the one it was given
when what it read and sent was newer still (so the same change is not sent
twice). When `seen` is unknown (start-up, or `active()` was False) the first
marker read only becomes `seen`, unless `notify_first`: then `changed` runs
too, for apps whose state was loaded without a marker (a game arena loaded
on demand). `then` is more work on the same tick, after the check (the map's
viewer count, which its clients must get after their snapshot, not before).

Failures (the database is down) are logged once per ERROR_LOG_INTERVAL and
retried on the next tick; `seen` only moves once `changed` has succeeded.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from .dbaccess import db
from .ticker import Ticker

M = TypeVar("M")

ERROR_LOG_INTERVAL = 30.0


class Watcher(Generic[M]):
    def __init__(
        self,
        *,
        name: str,
        interval: float,
        read: Callable[[], M],
        changed: Callable[[M], Awaitable[M | None]],
        active: Callable[[], bool] | None = None,
        notify_first: bool = False,
        then: Callable[[], Awaitable[None]] | None = None,
        run: Callable[[Callable[[], M]], Awaitable[M]] = db,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self._read = read  # sync, run through db() (`run`: tests read without a database)
        self._run = run
        self._changed = changed
        self._active = active
        self.notify_first = notify_first
        self._then = then
        self.seen: M | None = None
        self.ticker = Ticker(
            name=name, interval=interval, callback=self._tick, always=True,
            error_log_interval=ERROR_LOG_INTERVAL, clock=clock, sleep=sleep,
        )

    @property
    def running(self) -> bool:
        return self.ticker.running

    def start(self) -> None:
        self.ticker.start()

    async def stop(self) -> None:
        await self.ticker.stop()

    async def _tick(self) -> None:
        await self.check()
        if self._then is not None:
            await self._then()

    async def check(self) -> None:
        """One poll: what every tick runs (tests call it directly)."""
        if self._active is not None and not self._active():
            self.seen = None  # nobody to tell: the next client starts from fresh state
            return
        marker = await self._run(self._read)
        if self.seen is None and not self.notify_first:
            self.seen = marker
            return
        if marker == self.seen:
            return
        covered = await self._changed(marker)
        self.seen = marker if covered is None else covered
