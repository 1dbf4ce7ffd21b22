"""Run synchronous Django code (services, selectors) from async handlers.

python-socketio does not manage Django's database connections. This does what
Channels' `database_sync_to_async` does: run the function in asgiref's
thread-sensitive executor (one thread, so SQLite sees one writer connection
per worker) and close stale or broken connections before and after.

`db()` is that one shared thread: every namespace's reads and small writes
(identity lookups on connect, chat posts, snapshots) queue there, in order.
A write path that must not wait behind them (the map's group commit, which
every vote's ack waits for) gets a `DbThread` of its own: one more thread
and so one more connection (Django's connections are per thread), used only
by its owner. Under SQLite in WAL mode the two connections do not block each
other: readers see the last commit while a write transaction is open, and
writers are still ordered by SQLite's write lock (IMMEDIATE transactions,
settings.py).
"""

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

P = ParamSpec("P")
T = TypeVar("T")


def _run_with_fresh_connections(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


async def db(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`await db(service, key=value)` runs `service(key=value)` off the event loop."""
    runner: Callable[..., Any] = sync_to_async(_run_with_fresh_connections, thread_sensitive=True)
    return await runner(fn, *args, **kwargs)


class DbThread:
    """A database thread (and so a connection) of one's own.

    `await thread.run(service, key=value)` is `db()` on this thread: calls run
    one at a time, in the order they were made, never behind the shared
    thread's queue. `close()` closes the thread's connections and ends it.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._executor is None:
            raise RuntimeError(f"database thread {self.name!r} is closed")
        call = functools.partial(_run_with_fresh_connections, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # The connections belong to the thread: close them there, then let it end.
        await asyncio.get_running_loop().run_in_executor(executor, connections.close_all)
        executor.shutdown(wait=False)
