"""The talk's design, for comparison: one broadcast per vote, counts in memory.

A python-socketio AsyncServer under uvicorn with the same namespace, event
names and payloads as the site's `/map-dashboard` (snapshot on connect,
`vote` acked with `{"ok": true, "data": {"province", "votes", "version"}}`,
a `votes` delta with the absolute count), but every vote is broadcast on its
own, right away, through the client manager, and nothing is stored.

    python bench/dashboard/baseline_server.py --port 8100 [--manager stock|fast]

`--manager fast` swaps in the site's task-free client manager
(votemap_site/realtime/broadcast.py) to show what the broadcast path alone
is worth, without coalescing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import socketio
import uvicorn

NAMESPACE = "/map-dashboard"
PROVINCES = [f"{n:02d}" for n in range(1, 53)]


def build_app(manager: str) -> socketio.ASGIApp:
    if manager == "fast":
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from votemap_site.realtime.broadcast import FastAsyncManager

        client_manager: socketio.AsyncManager = FastAsyncManager()
    else:
        client_manager = socketio.AsyncManager()
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=client_manager, cors_allowed_origins="*")
    counts = dict.fromkeys(PROVINCES, 0)
    state = {"version": 0}

    @sio.on("connect", namespace=NAMESPACE)
    async def connect(sid, environ, auth=None):
        await sio.emit(
            "snapshot",
            {
                "version": state["version"],
                "open": True,
                "viewers": 0,
                "provinces": [{"code": c, "name": c, "votes": v} for c, v in counts.items()],
            },
            to=sid,
            namespace=NAMESPACE,
        )

    @sio.on("vote", namespace=NAMESPACE)
    async def vote(sid, payload):
        if not isinstance(payload, dict) or payload.get("province") not in counts:
            return {"ok": False, "error": {"code": "not_found", "message": "no such province"}}
        code = payload["province"]
        step = 1 if payload.get("direction") == "up" else -1
        counts[code] = max(0, counts[code] + step)
        state["version"] += 1
        version = state["version"]
        await sio.emit("votes", {"version": version, "counts": {code: counts[code]}}, namespace=NAMESPACE)
        return {"ok": True, "data": {"province": code, "votes": counts[code], "version": version}}

    return socketio.ASGIApp(sio)


def main() -> int:
    parser = argparse.ArgumentParser(description="once-per-vote baseline server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--manager", choices=["stock", "fast"], default="stock")
    args = parser.parse_args()
    uvicorn.run(
        build_app(args.manager), host=args.host, port=args.port, log_level="warning",
        ws="websockets-sansio", ws_per_message_deflate=False, lifespan="off", access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
