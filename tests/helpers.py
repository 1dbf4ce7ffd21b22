"""Waiting for a condition with a deadline, never for a fixed time.

A test that sleeps a fixed time and then asserts fails on a busy machine (the
event came later) or passes for the wrong reason (nothing was checked). These
poll the condition, return as soon as it holds, and fail with `message` (and
the last value seen) only when the deadline passes. Deadlines are generous: they
bound how long a broken build takes to fail, they are not a speed requirement.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

DEFAULT_TIMEOUT = 15.0


def wait_until(predicate: Callable[[], Any], *, timeout: float = DEFAULT_TIMEOUT, interval: float = 0.02,
               message: str = "condition") -> Any:
    """Call `predicate` until it returns a true value; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} did not hold within {timeout}s (last value: {value!r})")
        time.sleep(interval)


async def async_wait_until(predicate: Callable[[], Any | Awaitable[Any]], *, timeout: float = DEFAULT_TIMEOUT,
                           interval: float = 0.01, message: str = "condition") -> Any:
    """The same inside an event loop; `predicate` may be a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} did not hold within {timeout}s (last value: {value!r})")
        await asyncio.sleep(interval)


def record_emits(namespace: Any) -> list[tuple[str, Any, dict[str, Any]]]:
    """Replace a namespace's `emit` (driven without a server) by one that records
    each call as (event, data, keyword arguments); the list, also as `namespace.sent`."""
    sent: list[tuple[str, Any, dict[str, Any]]] = []

    async def emit(event: str, data: Any = None, **kwargs: Any) -> None:
        sent.append((event, data, kwargs))

    namespace.emit = emit
    namespace.sent = sent
    return sent
