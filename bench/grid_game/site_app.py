"""The site's ASGI application, instrumented for bench/grid_game.

Same application as `votemap_site.asgi:application`, plus a background task
that writes the grid game engine's tick-loop counters (Engine.tick_cost) to
BENCH_STATS_PATH every second. BENCH_MANAGER=stock swaps the site's client
manager for python-socketio's stock AsyncManager (for comparison).

    uvicorn bench.grid_game.site_app:application --port 8765 --ws websockets-sansio
"""

import asyncio
import gc
import json
import os
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "votemap_site.settings")
django.setup()

import socketio  # noqa: E402

from votemap_site.realtime import server as realtime_server  # noqa: E402

if os.environ.get("BENCH_MANAGER") == "stock":
    realtime_server.build_client_manager = lambda: socketio.AsyncManager()

from votemap_site.asgi import application  # noqa: E402

STATS_PATH = os.environ.get("BENCH_STATS_PATH", "")
MANAGER = type(realtime_server.current().sio.manager).__name__


# The cyclic collector's pauses (wall time, all generations) since start-up:
# a full collection in the middle of a run shows up here rather than only as
# a latency outlier.
_GC = {"gc_seconds": 0.0, "gc_collections": 0, "gc_full": 0}
_gc_started = 0.0


def _gc_callback(phase: str, info: dict) -> None:
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
        return
    _GC["gc_seconds"] += time.perf_counter() - _gc_started
    _GC["gc_collections"] += 1
    if info.get("generation") == 2:
        _GC["gc_full"] += 1


async def _write_stats(namespace) -> None:  # type: ignore[no-untyped-def]
    path = Path(STATS_PATH)
    gc.callbacks.append(_gc_callback)
    while True:
        await asyncio.sleep(1.0)
        stats = {**namespace.engine.tick_cost(), **_GC, "manager": MANAGER}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stats))
        tmp.replace(path)


def _instrument() -> None:
    if not STATS_PATH:
        return
    namespace = realtime_server.current().namespace("/grid-game")
    original = namespace.start

    async def start() -> None:
        await original()
        namespace._bench_stats_task = asyncio.create_task(_write_stats(namespace))

    namespace.start = start


_instrument()
__all__ = ["application"]
