"""Run synchronous Django code (services, selectors) from async handlers.

python-socketio does not manage Django's database connections. This does what
Channels' `database_sync_to_async` does: run the function in asgiref's
thread-sensitive executor (one thread, so SQLite sees one writer connection
per worker) and close stale or broken connections before and after.
"""

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

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
