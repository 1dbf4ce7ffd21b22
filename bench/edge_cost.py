"""CPU cost of the edge's per-packet work, without network (votemap_site/realtime/edge.py).

    taskset -c 1 .venv/bin/python -m bench.edge_cost [--n 200000] [--connections 1000]

The end-to-end runs (bench/*/run.py with `--base-root`) compare the site with
the code before the edge, but on a shared machine their ratios move by more
than the edge could cost. This measures, in CPU time of this process (not
wall time, so other work on the machine matters much less), what the edge
adds to each packet, to compare with the server CPU per vote, message or
move of the end-to-end runs:

- the wrapper around python-socketio's `_handle_eio_message` (every incoming
  packet), against calling python-socketio's method directly;
- `EdgeGuard.check_event` (every event: the connection's bucket, and the
  session's or the address's), against the rate limiter of another checkout
  (`--base-root`, e.g. the previous main: its `RateLimiter.check_all` per
  namespace sid and session) or one bare token bucket;
- the bounded send queue (`SendQueue`, every packet queued to a connection:
  acks, snapshots, anything not written as a pre-built frame), against
  asyncio.Queue, engine.io's queue before;
- the sweep, once a second, per open connection.

Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "votemap_site.settings")
os.environ.setdefault("DJANGO_ENV_FILE", "")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "k" * 50)

import django  # noqa: E402

django.setup()

from engineio import packet as eio_packet  # noqa: E402

from votemap_site.realtime import broadcast, edge  # noqa: E402
from votemap_site.realtime.identity import Identity  # noqa: E402
from votemap_site.realtime.ratelimit import RateLimit, TokenBucket  # noqa: E402

VOTE = '42/map-dashboard,17["vote",{"province":"28","direction":"up","vote_id":"6f1c0c8e-8a52-4a8e-9b0b-3d5f2e1a9c77"}]'
ACK = '43/map-dashboard,17[{"ok":true,"data":{"province":"28","votes":1234,"version":99}}]'


def cpu_us(fn, n: int) -> float:
    """CPU µs per call of fn(i), best of 3 rounds."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for i in range(n):
            fn(i)
        best = min(best, time.process_time() - start)
    return 1e6 * best / n


def async_cpu_us(make_coro, n: int) -> float:
    loop = asyncio.new_event_loop()

    async def rounds() -> float:
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            for i in range(n):
                await make_coro(i)
            best = min(best, time.process_time() - start)
        return best

    try:
        return 1e6 * loop.run_until_complete(rounds()) / n
    finally:
        loop.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="calls per measurement")
    parser.add_argument("--connections", type=int, default=1000, help="open connections for the sweep")
    parser.add_argument("--base-root", type=Path, default=None,
                        help="another checkout: its votemap_site/realtime/ratelimit.py (pure code) is the 'before'")
    args = parser.parse_args()
    n = args.n
    limits = edge.EdgeLimits.from_settings()
    environ = {"asgi.scope": {"client": ("127.0.0.1", 40000)}}
    results: dict[str, float] = {}

    # ----- the message wrapper -------------------------------------------------
    server = edge.EdgeAsyncServer(async_mode="asgi", edge_limits=limits)
    calls = 0

    async def socketio_handler(self, eio_sid, data):  # python-socketio's part, out of the measurement
        nonlocal calls
        calls += 1

    had_own = "_handle_eio_message" in vars(broadcast.FastAsyncServer)
    original = vars(broadcast.FastAsyncServer).get("_handle_eio_message")
    broadcast.FastAsyncServer._handle_eio_message = socketio_handler
    try:
        server.edge.opened("sid-1", environ)
        results["message wrapper (edge + socketio stub)"] = async_cpu_us(
            lambda i: server._handle_eio_message("sid-1", VOTE), n)
        results["socketio stub alone"] = async_cpu_us(lambda i: socketio_handler(server, "sid-1", VOTE), n)
    finally:
        if had_own:
            broadcast.FastAsyncServer._handle_eio_message = original
        else:
            del broadcast.FastAsyncServer._handle_eio_message
    assert calls >= 6 * n, "the wrapper passed the packets on"
    results["message wrapper: added by the edge"] = (
        results["message wrapper (edge + socketio stub)"] - results["socketio stub alone"])

    # ----- rate limits per event ------------------------------------------------------
    vote_limit = RateLimit(per_second=1e9, burst=10**9)  # always allowed: the common case
    guard = edge.EdgeGuard(SimpleNamespace(eio=SimpleNamespace(sockets={})), limits)
    guard.opened("sid-2", environ)
    anonymous = Identity(key="c:sid-2", session_key=None, user_id=None, username=None, is_staff=False,
                         public_id="x")
    with_session = Identity(key="s:abc", session_key="abc", user_id=None, username=None, is_staff=False,
                            public_id="y")
    results["check_event, cookie-less"] = cpu_us(
        lambda i: guard.check_event(eio_sid="sid-2", identity=anonymous, event="/map-dashboard:vote",
                                    limit=vote_limit), n)
    results["check_event, with a session"] = cpu_us(
        lambda i: guard.check_event(eio_sid="sid-2", identity=with_session, event="/map-dashboard:vote",
                                    limit=vote_limit), n)
    no_address = edge.EdgeGuard(SimpleNamespace(eio=SimpleNamespace(sockets={})),
                                dataclasses.replace(limits, address_multiplier=0))
    no_address.opened("sid-2", environ)
    results["check_event, cookie-less, RATE_LIMIT_ADDRESS_MULTIPLIER=0 (the benchmarks)"] = cpu_us(
        lambda i: no_address.check_event(eio_sid="sid-2", identity=anonymous, event="/map-dashboard:vote",
                                         limit=vote_limit), n)
    bucket = TokenBucket.full(vote_limit, time.monotonic())
    results["one token bucket"] = cpu_us(lambda i: bucket.take(time.monotonic()), n)
    if args.base_root:
        spec = importlib.util.spec_from_file_location(
            "base_ratelimit", args.base_root / "votemap_site" / "realtime" / "ratelimit.py")
        base_ratelimit = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(base_ratelimit)
        old = base_ratelimit.RateLimiter(session_multiplier=3.0)
        old_limit = base_ratelimit.RateLimit(per_second=1e9, burst=10**9)
        results["before: check_all, cookie-less"] = cpu_us(
            lambda i: old.check_all(conn_key="nsid-1", session_key=None, event="vote", limit=old_limit,
                                    now=time.monotonic()), n)
        results["before: check_all, with a session"] = cpu_us(
            lambda i: old.check_all(conn_key="nsid-1", session_key="abc", event="vote", limit=old_limit,
                                    now=time.monotonic()), n)

    # ----- the send queue -------------------------------------------------------------
    pkt = eio_packet.Packet(eio_packet.MESSAGE, data=ACK[1:])
    bounded = edge.SendQueue(max_packets=limits.max_queued_packets, max_bytes=limits.max_queued_bytes)
    plain = asyncio.Queue()

    def through(queue):
        def once(i):
            queue.put_nowait(pkt)
            queue.get_nowait()
        return once

    results["SendQueue put + get"] = cpu_us(through(bounded), n)
    results["asyncio.Queue put + get (before the edge)"] = cpu_us(through(plain), n)
    results["send queue: added by the edge"] = (
        results["SendQueue put + get"] - results["asyncio.Queue put + get (before the edge)"])

    # ----- the sweep --------------------------------------------------------------------
    sockets = {}
    sweep_guard = edge.EdgeGuard(SimpleNamespace(eio=SimpleNamespace(sockets=sockets)),
                                 dataclasses.replace(limits, new_connections_per_address=0))
    for i in range(args.connections):
        sid = f"sweep-{i}"
        sockets[sid] = SimpleNamespace(queue=edge.SendQueue(max_packets=512, max_bytes=1 << 18), upgraded=True)
        assert sweep_guard.opened(sid, environ)
        sweep_guard.namespace_joined(sid)
    rounds = max(10, n // (10 * args.connections))
    per_sweep = cpu_us(lambda i: sweep_guard.sweep(now=time.monotonic()), rounds)
    results[f"sweep of {args.connections} connections (once a second)"] = per_sweep
    results["sweep per connection"] = per_sweep / args.connections

    width = max(len(k) for k in results)
    print(f"| {'what'.ljust(width)} | CPU µs |")
    print(f"|{'-' * (width + 2)}|---|")
    for key, value in results.items():
        print(f"| {key.ljust(width)} | {value:.2f} |")
    print(json.dumps({k: round(v, 3) for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
