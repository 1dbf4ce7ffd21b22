"""The server-to-server bus (votemap_site/realtime/bus.py) on Redis and on RabbitMQ:
requests and replies, messages to every process, order kept per sender, and a
queue that hangs failing sends fast instead of holding the sender."""

import asyncio
import uuid

import pytest

from votemap_site.realtime import bus as bus_module
from votemap_site.realtime.bus import ALL, AmqpTransport, Bus, BusTimeout, BusUnavailable, RedisTransport


def make_transport(kind: str, url: str, tag: str):
    if kind == "redis":
        return RedisTransport(url, prefix=f"bustest{tag}:")
    return AmqpTransport(url, exchange=f"bustest-{tag}-bus")


@pytest.fixture(params=["redis", "rabbitmq"])
def transports(request):
    url = request.getfixturevalue("redis_url" if request.param == "redis" else "rabbitmq_url")
    tag = uuid.uuid4().hex[:8]
    return lambda: make_transport(request.param, url, tag)


@pytest.mark.services
async def test_requests_replies_broadcasts_and_order(transports) -> None:
    a, b, c = (Bus(transports(), process_id=name) for name in "ABC")
    received: dict[str, list[dict]] = {"A": [], "B": [], "C": []}

    def handler(name, bus):
        async def handle(message):
            received[name].append(message)
            if message.get("op") == "ping":
                await bus.reply(message, {"pong": message["n"] * 2})
        return handle

    for name, bus in zip("ABC", (a, b, c), strict=True):
        await bus.start(handler(name, bus))
    try:
        reply = await a.request("B", {"op": "ping", "n": 21}, timeout=5)
        assert reply["pong"] == 42 and reply["from"] == "B"
        for n in range(50):
            await a.send("B", {"op": "seq", "n": n})
        await a.send(ALL, {"op": "hello"})
        deadline = asyncio.get_running_loop().time() + 10
        while asyncio.get_running_loop().time() < deadline:
            if any(m["op"] == "hello" for m in received["C"]) and len(received["B"]) >= 52:
                break
            await asyncio.sleep(0.02)
        assert [m["n"] for m in received["B"] if m["op"] == "seq"] == list(range(50))
        assert [m["op"] for m in received["C"]] == ["hello"]  # nothing meant for B
        assert not [m for m in received["A"] if m["op"] == "hello"]  # not our own broadcast
        with pytest.raises(BusTimeout):
            await a.request("nobody", {"op": "ping", "n": 1}, timeout=0.3)
    finally:
        for bus in (a, b, c):
            await bus.stop()


class HangingTransport:
    def __init__(self) -> None:
        self.calls = 0

    async def start(self, process_id, deliver) -> None:
        pass

    async def publish(self, to, body) -> None:
        self.calls += 1
        await asyncio.sleep(3600)

    async def stop(self) -> None:
        pass


async def test_a_hanging_queue_fails_sends_fast(monkeypatch) -> None:
    monkeypatch.setattr(bus_module, "SEND_TIMEOUT_SECONDS", 0.1)
    transport = HangingTransport()
    bus = Bus(transport, process_id="A")
    await bus.start(lambda message: asyncio.sleep(0))
    with pytest.raises(BusUnavailable):
        await bus.send("B", {"op": "x"})
    with pytest.raises(BusUnavailable):  # at once, without another try
        await bus.send("B", {"op": "x"})
    assert transport.calls == 1
    with pytest.raises(BusTimeout):  # a request says the other side is out of reach
        await bus.request("B", {"op": "x"}, timeout=5)
    await bus.stop()
