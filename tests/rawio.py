"""Raw Engine.IO v4 / Socket.IO v5 clients for the tests that misbehave on purpose.

The official clients cannot re-send a namespace CONNECT on the same
connection, send attachments the server never asked for, stop reading their
socket or send malformed packets. These can:

- `RawSocketIO`: a WebSocket (the `websockets` library) speaking Engine.IO
  text frames, with helpers for CONNECT, events and acks; it answers the
  server's PINGs unless told not to.
- `NonReadingSocket`: a plain TCP socket that does the WebSocket handshake,
  then only writes (masked client frames) and never reads, with a small
  receive buffer, so the server's writes back up as they would for a phone
  that stopped reading.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


def ws_url(base_url: str, path: str = "socket.io") -> str:
    return base_url.replace("http://", "ws://", 1) + f"/{path}/?EIO=4&transport=websocket"


class RawSocketIO:
    def __init__(self, ws: ClientConnection, *, answer_pings: bool = True) -> None:
        self.ws = ws
        self.answer_pings = answer_pings
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._next_id = 0
        self._acks: dict[str, asyncio.Future] = {}  # "<namespace>,<id>" -> the ack's payload
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, base_url: str, *, headers: dict[str, str] | None = None,
                   answer_pings: bool = True, max_size: int | None = 2**20) -> RawSocketIO:
        ws = await connect(ws_url(base_url), additional_headers=headers or {}, max_size=max_size,
                           open_timeout=10, compression=None)
        first = await asyncio.wait_for(ws.recv(), 10)
        assert isinstance(first, str) and first.startswith("0{"), first  # Engine.IO OPEN
        client = cls(ws, answer_pings=answer_pings)
        client.sid = json.loads(first[1:])["sid"]
        return client

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, str) and message == "2":
                    if self.answer_pings:
                        await self.ws.send("3")
                    continue
                if isinstance(message, str) and message.startswith("43"):
                    head, _, body = message[2:].partition("[")
                    future = self._acks.pop(head, None)
                    if future is not None and not future.done():
                        future.set_result(json.loads("[" + body)[0])
                await self.inbox.put(message if isinstance(message, str) else "<binary>")
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
            for future in self._acks.values():
                if not future.done():
                    future.set_exception(ConnectionError(f"connection closed (code {self.close_code})"))

    # ----- sending -----------------------------------------------------------
    async def send(self, text: str | bytes) -> bool:
        """Send one Engine.IO message; False if the connection is already gone."""
        try:
            await self.ws.send(text)
            return True
        except ConnectionClosed:
            return False

    async def connect_namespace(self, namespace: str, *, timeout: float = 5) -> dict:
        """CONNECT; the server's CONNECT (`{"sid": ...}`) or CONNECT_ERROR payload."""
        await self.send(f"40{namespace},")
        reply = await self.wait_for(lambda m: m.startswith((f"40{namespace},", f"44{namespace},")), timeout)
        return json.loads(reply.split(",", 1)[1])

    async def disconnect_namespace(self, namespace: str) -> None:
        await self.send(f"41{namespace},")

    async def emit(self, namespace: str, event: str, payload: Any) -> int:
        """Send an event that asks for an ack; returns the ack id."""
        self._next_id += 1
        await self.send(f"42{namespace},{self._next_id}" + json.dumps([event, payload]))
        return self._next_id

    async def call(self, namespace: str, event: str, payload: Any, *, timeout: float = 5) -> dict:
        """Send an event and wait for its ack (several calls may be in flight)."""
        self._next_id += 1
        ack_id = self._next_id
        future = self._acks[f"{namespace},{ack_id}"] = asyncio.get_running_loop().create_future()
        if self.closed.is_set() or not await self.send(f"42{namespace},{ack_id}" + json.dumps([event, payload])):
            self._acks.pop(f"{namespace},{ack_id}", None)
            raise ConnectionError("connection closed")
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._acks.pop(f"{namespace},{ack_id}", None)

    # ----- receiving ---------------------------------------------------------
    async def wait_for(self, predicate, timeout: float = 5) -> str:
        """The next message matching `predicate` (others are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no matching message")
            getter = asyncio.ensure_future(self.inbox.get())
            closed = asyncio.ensure_future(self.closed.wait())
            done, _ = await asyncio.wait({getter, closed}, timeout=remaining,
                                         return_when=asyncio.FIRST_COMPLETED)
            closed.cancel()
            if getter in done:
                message = getter.result()
                if predicate(message):
                    return message
                continue
            getter.cancel()
            if self.inbox.empty() and self.closed.is_set():
                raise ConnectionError(f"connection closed (code {self.close_code})")

    async def wait_closed(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        self._reader.cancel()
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except Exception:
            pass


class NonReadingSocket:
    """A WebSocket client that stops reading after the handshake (blocking socket API)."""

    def __init__(self, host: str, port: int, *, path: str = "socket.io", headers: dict[str, str] | None = None,
                 rcvbuf: int = 4096) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall(
            f"GET /{path}/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extra}\r\n".encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            response += chunk
        assert response.startswith(b"HTTP/1.1 101"), response[:200]
        # From here on nothing is read: the OPEN packet and everything after
        # it stay in the (small) receive buffer, then back up in the server.

    def send_text(self, text: str) -> bool:
        """One masked text frame; False once the server has closed the connection."""
        body = text.encode()
        mask = os.urandom(4)
        length = len(body)
        if length < 126:
            header = bytes((0x81, 0x80 | length))
        elif length < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(body))
        try:
            self.sock.sendall(header + mask + masked)
            return True
        except OSError:
            return False

    def server_closed(self) -> bool:
        """True when the server has reset or closed the connection (peeks without reading data)."""
        self.sock.setblocking(False)
        try:
            # MSG_PEEK leaves buffered data where it is; a reset raises, EOF
            # gives b"" only once the buffered data is gone, so also check for
            # a pending error.
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                return True
            self.sock.recv(1, socket.MSG_PEEK)
            return False
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(10)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
