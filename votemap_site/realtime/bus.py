"""Server-to-server messages: each process has an inbox on the site's message queue.

Socket.IO's client managers carry what goes to clients (an emit reaches the
clients of every process); this carries what one process asks of another,
with a connection of its own and the queue's public client API (redis-py's
pub/sub, aio-pika), never python-socketio's manager internals. The grid game
uses it to send its players' joins, moves and leaves to the process that holds
the arena (grid_game/cluster.py).

A message is one JSON object. `send(to, message)` delivers it to the inbox of
process `to`, or of every process with `to=ALL`; a message to a process that
is gone is dropped (the queue keeps nothing for it). Messages from one sender
to one inbox arrive in the order they were sent. `request` adds an id and
waits for the `reply` that names it, with a timeout: the receiver answers with
`reply(message, answer)`.

Messages are trusted like the Socket.IO fan-out is: whoever can publish on
the site's Redis or RabbitMQ can already reach every client. A receiver still
checks the shape of what it reads (a malformed message is logged and dropped).

- Redis (REDIS_URL): pub/sub channels `<prefix>bus:<process id>` and
  `<prefix>bus:all`; redis-py re-subscribes after a reconnect.
- RabbitMQ (MESSAGE_QUEUE_URL): a direct exchange `<SOCKETIO_REDIS_CHANNEL>-bus`;
  each process consumes a server-named, exclusive queue bound with its id and
  with `all`. aio-pika's robust connection reconnects and binds it again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from django.conf import settings

log = logging.getLogger("votemap_site.realtime")

ALL = "all"
Handler = Callable[[dict[str, Any]], Awaitable[None]]
# A send gives up after this long, and after a failure sends fail at once for
# RETRY_SECONDS: a queue that hangs must not hold a game's tick loop.
SEND_TIMEOUT_SECONDS = 2.0
RETRY_SECONDS = 1.0


class BusTimeout(Exception):
    """No reply within the request's timeout (the receiver is gone or slow, or the queue is down)."""


class BusUnavailable(ConnectionError):
    """The queue refused or timed out a send a moment ago."""


class Transport(Protocol):
    async def start(self, process_id: str, deliver: Callable[[bytes], None]) -> None: ...
    async def publish(self, to: str, body: bytes) -> None: ...
    async def stop(self) -> None: ...


class Bus:
    """A process's inbox and outbox over one transport."""

    def __init__(self, transport: Transport, *, process_id: str) -> None:
        self.process_id = process_id
        self._transport = transport
        self._handler: Handler | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._down_until = 0.0

    async def start(self, handler: Handler) -> None:
        self._handler = handler
        await self._transport.start(self.process_id, self._deliver)

    async def stop(self) -> None:
        await self._transport.stop()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BusTimeout("the bus stopped"))
        self._pending.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def send(self, to: str, message: dict[str, Any]) -> None:
        if time.monotonic() < self._down_until:
            raise BusUnavailable("the message queue failed a moment ago")
        body = json.dumps({**message, "from": self.process_id}, separators=(",", ":")).encode()
        try:
            await asyncio.wait_for(self._transport.publish(to, body), SEND_TIMEOUT_SECONDS)
        except Exception as exc:
            self._down_until = time.monotonic() + RETRY_SECONDS
            raise BusUnavailable(f"could not send to {to}: {type(exc).__name__}") from exc

    async def request(self, to: str, message: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self.send(to, {**message, "id": request_id})
            return await asyncio.wait_for(future, timeout)
        except (TimeoutError, BusUnavailable) as exc:
            raise BusTimeout(f"no reply from {to} within {timeout}s") from exc
        finally:
            self._pending.pop(request_id, None)

    async def reply(self, request: dict[str, Any], answer: dict[str, Any]) -> None:
        sender, request_id = request.get("from"), request.get("id")
        if isinstance(sender, str) and isinstance(request_id, int):
            await self.send(sender, {**answer, "op": "reply", "re": request_id})

    def _deliver(self, body: bytes) -> None:
        try:
            message = json.loads(body)
        except ValueError:
            log.warning("bus: dropped a message that is not JSON")
            return
        if not isinstance(message, dict) or message.get("from") == self.process_id:
            return  # our own broadcast
        if message.get("op") == "reply":
            future = self._pending.get(message.get("re"))  # type: ignore[arg-type]
            if future is not None and not future.done():
                future.set_result(message)
            return
        if self._handler is None:
            return
        # One task per message, started in arrival order: a handler that awaits
        # (a join reading the database) does not hold the messages behind it.
        task = asyncio.get_running_loop().create_task(self._handle(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, message: dict[str, Any]) -> None:
        assert self._handler is not None
        try:
            await self._handler(message)
        except Exception:
            log.exception("bus: handling %r failed", message.get("op"))


class RedisTransport:
    def __init__(self, redis_url: str, *, prefix: str) -> None:
        import redis.asyncio as aioredis

        # One connection for publishing: messages leave in the order they are
        # sent (a pool would race them over several connections).
        self._redis = aioredis.from_url(redis_url, socket_connect_timeout=2, single_connection_client=True)
        self._subscriber = aioredis.from_url(redis_url, socket_connect_timeout=2)
        self._prefix = prefix + "bus:"
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, process_id: str, deliver: Callable[[bytes], None]) -> None:
        self._pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._prefix + process_id, self._prefix + ALL)
        self._task = asyncio.create_task(self._listen(deliver), name="bus:redis")

    async def _listen(self, deliver: Callable[[bytes], None]) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("bus: Redis subscription failed; retrying", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            if message is not None and message.get("type") == "message":
                deliver(message["data"])

    async def publish(self, to: str, body: bytes) -> None:
        await self._redis.publish(self._prefix + to, body)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._pubsub is not None:
            try:
                await self._pubsub.aclose()
            except Exception:
                pass
        await self._subscriber.aclose()
        await self._redis.aclose()


class AmqpTransport:
    def __init__(self, url: str, *, exchange: str) -> None:
        self._url = url
        self._exchange_name = exchange
        self._connection: Any = None
        self._exchange: Any = None

    async def start(self, process_id: str, deliver: Callable[[bytes], None]) -> None:
        import aio_pika

        self._connection = await aio_pika.connect_robust(self._url, timeout=5)
        # No publisher confirms: a message is written and the next one follows
        # without waiting for the broker (order is kept on the one channel); a
        # message lost with a broker failure is what request timeouts and the
        # heartbeats already cover.
        channel = await self._connection.channel(publisher_confirms=False)
        self._exchange = await channel.declare_exchange(
            self._exchange_name, aio_pika.ExchangeType.DIRECT, durable=False)
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        await queue.bind(self._exchange, routing_key=process_id)
        await queue.bind(self._exchange, routing_key=ALL)

        async def on_message(message: Any) -> None:
            deliver(message.body)

        await queue.consume(on_message, no_ack=True)

    async def publish(self, to: str, body: bytes) -> None:
        import aio_pika

        # Not mandatory: a message for a process that is gone is dropped by the
        # broker, not returned (and logged as unhandled) to us.
        await self._exchange.publish(aio_pika.Message(body), routing_key=to, mandatory=False)

    async def stop(self) -> None:
        if self._connection is not None:
            try:
                await self._connection.close()
            except Exception:
                pass


def build_bus(process_id: str) -> Bus | None:
    """The site's bus (RabbitMQ when MESSAGE_QUEUE_URL is set, else Redis), or None with one process."""
    transport: Transport
    if settings.MESSAGE_QUEUE_URL:
        transport = AmqpTransport(settings.MESSAGE_QUEUE_URL,
                                  exchange=settings.SOCKETIO_REDIS_CHANNEL + "-bus")
    elif settings.REDIS_URL:
        transport = RedisTransport(settings.REDIS_URL, prefix=settings.REDIS_KEY_PREFIX)
    else:
        return None
    return Bus(transport, process_id=process_id)
