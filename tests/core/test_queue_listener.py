"""The site's queue managers under faults, one process (votemap_site/realtime/broadcast.py):
the Redis listener reconnects by itself with a bounded wait and keeps a quiet
connection alive; a publish to a dead queue is bounded and trips the breaker."""

import asyncio
import shutil
import signal
import subprocess
import time

import pytest

from tests.conftest import free_port, need
from tests.helpers import async_wait_until
from votemap_site.realtime import broadcast
from votemap_site.realtime.breaker import CircuitBreaker
from votemap_site.realtime.broadcast import WireJson

pytestmark = [pytest.mark.services, pytest.mark.timeout(120)]


def redis_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port, socket_timeout=0.5).ping()
            return proc
        except Exception:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def manager(port: int, breaker: CircuitBreaker | None = None) -> broadcast.FastAsyncRedisManager:
    mgr = broadcast.FastAsyncRedisManager(f"redis://127.0.0.1:{port}/0", channel="listener-test", path="loop",
                                          queue_timeout=0.3, breaker=breaker)
    mgr.json = WireJson  # what set_server would give it
    return mgr


async def consume(mgr, received: list) -> None:
    async for body in mgr._listen():
        received.append(body)


async def test_the_redis_listener_retries_with_a_bounded_wait_and_receives_once_redis_is_there():
    need(shutil.which("redis-server") is not None, "redis-server")
    port = free_port()
    waits: list[float] = []

    async def quick_sleep(seconds: float) -> None:  # record the waits, do not spend them
        waits.append(seconds)
        await asyncio.sleep(0.01)

    mgr = manager(port)
    mgr._sleep = quick_sleep
    received: list = []
    task = asyncio.ensure_future(consume(mgr, received))
    proc = None
    try:
        await async_wait_until(lambda: len(waits) >= 10, message="ten refused reconnects")
        assert mgr.listener_reconnects >= 10 and not mgr.listener_up
        assert max(waits) <= broadcast.LISTEN_RETRY_MAX_SECONDS
        mgr._sleep = asyncio.sleep
        proc = await asyncio.to_thread(redis_server, port)
        await async_wait_until(lambda: mgr.listener_up, timeout=10, message="listening again")
        import redis.asyncio as aioredis

        client = aioredis.Redis(port=port)
        await client.publish("listener-test", b'{"method": "emit"}')
        await client.aclose()
        await async_wait_until(lambda: received, timeout=5, message="a message after the reconnect")
        assert received == [b'{"method": "emit"}']
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if proc is not None:
            proc.kill()
            proc.wait(10)


async def test_a_quiet_listener_stays_connected_and_a_paused_redis_is_noticed():
    need(shutil.which("redis-server") is not None, "redis-server")
    port = free_port()
    proc = await asyncio.to_thread(redis_server, port)
    mgr = manager(port)
    task = asyncio.ensure_future(consume(mgr, []))
    try:
        await async_wait_until(lambda: mgr.listener_up, message="listening")
        # Quiet for longer than two PING intervals: the PINGs are answered, no reconnect.
        await asyncio.sleep(broadcast.LISTEN_PING_SECONDS * 2.5)
        assert mgr.listener_up and mgr.listener_reconnects == 0
        # A black hole (the process paused): the unanswered PING makes it start again.
        proc.send_signal(signal.SIGSTOP)
        await async_wait_until(lambda: mgr.listener_reconnects > 0, timeout=15, message="the silence noticed")
        proc.send_signal(signal.SIGCONT)
        await async_wait_until(lambda: mgr.listener_up, timeout=15, message="listening again")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait(10)


async def test_publishing_to_a_dead_queue_trips_the_breaker_skips_while_open_and_counts_failures():
    from prometheus_client import REGISTRY

    def sample(name: str) -> float:
        return REGISTRY.get_sample_value(name, {"channel": "listener-test"}) or 0.0

    port = free_port()  # nothing listens there
    breaker = CircuitBreaker(name="listener-test", failure_threshold=2, reset_timeout=60)
    mgr = manager(port, breaker)
    before = sample("votemap_queue_publish_failures_total")
    for _ in range(2):
        await mgr._publish({"method": "emit"})
    assert breaker.state == "open"
    assert sample("votemap_queue_breaker_open") == 1
    sends = []

    async def send(body: str) -> None:
        sends.append(body)

    mgr._send = send
    await mgr._publish({"method": "emit"})  # skipped while open: the queue is not even tried
    assert sends == []
    assert sample("votemap_queue_publish_failures_total") - before == 3
    await mgr.close()
