"""How a WebSocket connection's messages are read: engine.io's loop without a
task and a timer per message.

engine.io (`AsyncSocket._websocket_handler`) reads each message through a new
task wrapped in `asyncio.wait_for` with the ping interval plus the ping
timeout (45 s): the task, its registration, the timeout's timer and its
cancellation were about an eighth of the server's CPU under a vote flood
(docs/benchmarks.md). Here each message is awaited directly; everything else
is engine.io's code as it is in python-engineio 4.15.1 (the upgrade from
long-polling, the writer task, the clean-up), and the reader is installed
only with the library versions it was tested with (broadcast.TESTED_VERSIONS),
otherwise engine.io's own runs.

What the per-message timeout did is done elsewhere, without a cost per
message: a client that stops answering PINGs is closed by engine.io's own
monitor (`check_ping_timeout`), a dead TCP peer by uvicorn's WebSocket
keepalive (votemap_site/serve.py), and a client that stops reading by the
edge (edge.py); each of them ends the connection, which ends this loop.
"""

from __future__ import annotations

import asyncio
import types
from typing import Any

from engineio import exceptions, packet

from .broadcast import untested_versions

# engine.io attribute that `_upgrade_websocket` hands to the WebSocket driver.
HANDLER_ATTR = "_websocket_handler"


def reader_usable() -> bool:
    """True when the installed engine.io is the one this reader was written against."""
    return "python-engineio" not in untested_versions()


def install(sock: Any) -> None:
    """Make engine.io socket `sock` read its WebSocket with `websocket_handler`
    (a bound method, so the drivers still find the socket as `__self__`)."""
    setattr(sock, HANDLER_ATTR, types.MethodType(websocket_handler, sock))


async def websocket_handler(self: Any, ws: Any) -> None:
    """engine.io's `AsyncSocket._websocket_handler` (4.15.1) with the read loop
    awaiting each message directly. `self` is the engine.io socket."""
    server = self.server
    max_size = server.max_http_buffer_size

    async def websocket_wait() -> Any:
        data = await ws.wait()
        if data and len(data) > max_size:
            raise ValueError("packet is too large")
        return data

    if self.connected:
        # the socket was already connected, so this is an upgrade
        self.upgrading = True  # hold packet sends during the upgrade
        try:
            pkt = await websocket_wait()
        except OSError:
            return
        decoded_pkt = packet.Packet(encoded_packet=pkt)
        if decoded_pkt.packet_type != packet.PING or decoded_pkt.data != "probe":
            server.logger.info("%s: Failed websocket upgrade, no PING packet", self.sid)
            self.upgrading = False
            return
        await ws.send(packet.Packet(packet.PONG, data="probe").encode())
        await self.queue.put(packet.Packet(packet.NOOP))  # end poll
        try:
            pkt = await websocket_wait()
        except OSError:
            self.upgrading = False
            return
        decoded_pkt = packet.Packet(encoded_packet=pkt)
        if decoded_pkt.packet_type != packet.UPGRADE:
            self.upgraded = False
            server.logger.info("%s: Failed websocket upgrade, expected UPGRADE packet, received %s instead.",
                               self.sid, pkt)
            self.upgrading = False
            return
        self.upgraded = True
        self.upgrading = False
    else:
        self.connected = True
        self.upgraded = True

    async def writer() -> None:
        while True:
            packets = None
            try:
                packets = await self.poll()
            except exceptions.QueueEmpty:
                break
            if not packets:
                break  # empty packet list returned -> connection closed
            try:
                for pkt in packets:
                    await ws.send(pkt.encode())
            except Exception:
                break
        await ws.close()

    writer_task = asyncio.ensure_future(writer())
    server.logger.info("%s: Upgrade to websocket successful", self.sid)

    while True:
        try:
            p = await websocket_wait()
        except asyncio.CancelledError:
            break  # as engine.io does: the clean-up below still runs
        except Exception:  # OSError once the connection is gone, or a packet too large
            break
        if p is None:
            break  # connection closed by client
        pkt = packet.Packet(encoded_packet=p)
        try:
            await self.receive(pkt)
        except asyncio.CancelledError:
            break  # the handler task is being cancelled: still end the connection below
        except exceptions.UnknownPacketError:
            pass
        except exceptions.SocketIsClosedError:
            server.logger.info("Receive error -- socket is closed")
            break
        except Exception:
            # an unexpected exception is logged and the connection kept, as engine.io does
            server.logger.exception("Unknown receive error")

    await self.queue.put(None)  # unlock the writer task so it can exit
    await asyncio.wait_for(writer_task, timeout=None)
    await self.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)
