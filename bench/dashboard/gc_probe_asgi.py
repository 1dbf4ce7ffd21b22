"""The site with garbage-collector pauses and event-loop lag recorded (for tuning).

    GC_PROBE_OUT=/tmp/gc-probe.json [GC_PROBE_THRESHOLDS=5000,10,1000] \
        uvicorn bench.dashboard.gc_probe_asgi:application --ws websockets-sansio ...

Writes, once a second, JSON with every collection longer than 5 ms
(`[generation, ms]`) and every event-loop lag above 20 ms (a 10 ms sleep
that took longer). With GC_PROBE_THRESHOLDS the server's own GC tuning is
replaced by `gc.freeze()` + those thresholds ("default" keeps python's).
"""

import asyncio
import gc
import json
import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "votemap_site.settings")
django.setup()

import votemap_site.realtime.server as realtime_server  # noqa: E402

OUT = os.environ.get("GC_PROBE_OUT", "gc-probe.json")
THRESHOLDS = os.environ.get("GC_PROBE_THRESHOLDS", "")
if THRESHOLDS:
    realtime_server._gc_tuned = True  # keep the server from applying its own

pauses: list[tuple[int, float]] = []
lags: list[float] = []
_started_at = [0.0]


def _gc_callback(phase: str, info: dict) -> None:
    if phase == "start":
        _started_at[0] = time.perf_counter()
        return
    took = (time.perf_counter() - _started_at[0]) * 1000
    if took > 5:
        pauses.append((info["generation"], round(took, 1)))


gc.callbacks.append(_gc_callback)

from votemap_site.asgi import application as site_application  # noqa: E402


async def _monitor() -> None:
    last_write = time.perf_counter()
    while True:
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        now = time.perf_counter()
        lag = (now - before - 0.01) * 1000
        if lag > 20:
            lags.append(round(lag, 1))
        if now - last_write > 1:
            last_write = now
            with open(OUT, "w") as fh:
                json.dump({"gc_pauses": pauses, "loop_lags": lags, "thresholds": gc.get_threshold()}, fh)


_monitoring: list[asyncio.Task] = []


async def application(scope, receive, send):
    if not _monitoring:
        _monitoring.append(asyncio.get_running_loop().create_task(_monitor()))
        if THRESHOLDS and THRESHOLDS != "default":
            gc.collect()
            gc.freeze()
            gc.set_threshold(*(int(x) for x in THRESHOLDS.split(",")))
    return await site_application(scope, receive, send)
