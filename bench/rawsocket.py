"""What the load generators share: a cheap Socket.IO-over-WebSocket client
connection and process CPU accounting.

A generator opens thousands of connections from one core, so it speaks
RFC 6455 itself on an asyncio Protocol (no task, no library object per frame)
and hands each complete text frame (an Engine.IO packet) to `on_text`.
Subclasses implement `on_text` and `on_lost` for their own events.
"""

from __future__ import annotations

import asyncio
import base64
import os
import resource
import time


def cpu_seconds() -> float:
    """This process's CPU time (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of another process (the server) from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()


def process_tree_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a process and all its descendants, living or
    exited: its own utime + stime, the cutime + cstime of the children it has
    reaped, and the same for every living descendant. For PostgreSQL's
    postmaster this is the whole server (each session is a child process);
    the difference of two readings is what the tree used in between, with
    children that started or exited meanwhile included."""
    try:
        fields = _stat_fields(pid)
    except (OSError, IndexError):
        return None
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(_stat_fields(int(entry))[1])
            except (OSError, IndexError, ValueError):
                continue  # exited while listing
            children.setdefault(parent, []).append(int(entry))
    ticks = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            stat = fields if current == pid else _stat_fields(current)
        except (OSError, IndexError):
            continue  # exited meanwhile: its time is now in its parent's cutime (or lost, if read after)
        ticks += int(stat[11]) + int(stat[12]) + int(stat[13]) + int(stat[14])
        todo.extend(children.get(current, []))
    return ticks / os.sysconf("SC_CLK_TCK")


def parse_cpu_pids(spec: str) -> dict[str, int]:
    """"worker0=123,postgres=456" -> {"worker0": 123, "postgres": 456} (process trees to measure)."""
    found: dict[str, int] = {}
    for item in spec.split(","):
        if item.strip():
            name, _, pid = item.partition("=")
            found[name.strip()] = int(pid)
    return found


def trees_cpu_seconds(pids: dict[str, int]) -> dict[str, float | None]:
    return {name: process_tree_cpu_seconds(pid) for name, pid in pids.items()}


def cpu_used(before: dict[str, float | None], after: dict[str, float | None]) -> dict[str, float | None]:
    return {name: None if before.get(name) is None or after.get(name) is None
            else round(after[name] - before[name], 3) for name in after}


def proc_runqueue_wait(pid: int | str, *, all_threads: bool = True) -> float | None:
    """Seconds a process's threads (or its main thread) spent runnable but waiting
    for a CPU (schedstat); pid may be "self"."""
    try:
        if not all_threads:
            with open(f"/proc/{pid}/schedstat") as fh:
                return int(fh.read().split()[1]) / 1e9
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                total += int(fh.read().split()[1])
        return total / 1e9
    except (OSError, IndexError, ValueError):
        return None


def mask_frame(opcode: int, payload: bytes) -> bytes:
    """A final client frame, masked with a random key as RFC 6455 requires."""
    length = len(payload)
    key = os.urandom(4)
    if length < 126:
        header = bytes((0x80 | opcode, 0x80 | length))
    elif length < 65536:
        header = bytes((0x80 | opcode, 0xFE)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0xFF)) + length.to_bytes(8, "big")
    if length:
        repeated = (key * (length // 4 + 1))[:length]
        masked = (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(length, "little")
    else:
        masked = b""
    return header + key + masked


class RawSocketIOConnection(asyncio.Protocol):
    """One Engine.IO v4 client on the WebSocket transport at /socket.io/."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.transport: asyncio.Transport | None = None
        self.handshaken = False
        self.buf = b""
        self.fragments: list[bytes] = []
        self.ready = asyncio.get_running_loop().create_future()
        self.closed = False

    # ----- to be implemented by the generator ------------------------------
    def on_text(self, payload: bytes, now: float) -> None:
        """One complete Engine.IO packet, `now` = time.perf_counter() at arrival."""
        raise NotImplementedError

    def on_lost(self) -> None:
        """The connection closed after it was set up."""

    # ----- transport -------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {self.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        transport.write(request.encode())  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"connection lost during set-up: {exc}"))
        else:
            self.on_lost()

    def send_text(self, text: str) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(mask_frame(1, text.encode()))

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(mask_frame(8, (1000).to_bytes(2, "big")))
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        buf = self.buf + data if self.buf else data
        if not self.handshaken:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            status = buf[: buf.find(b"\r\n")]
            if b" 101 " not in status:
                self.ready.set_exception(ConnectionError(status.decode(errors="replace")))
                self.transport.close()
                return
            self.handshaken = True
            buf = buf[end + 4 :]
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            b0 = buf[pos]
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            end = pos + head + length
            if end > size:
                break
            payload = buf[pos + head : end]
            pos = end
            opcode = b0 & 0x0F
            if opcode == 1 or (opcode == 0 and self.fragments):
                if not b0 & 0x80:  # a fragment: keep until the final one
                    self.fragments.append(payload)
                    continue
                if self.fragments:
                    self.fragments.append(payload)
                    payload = b"".join(self.fragments)
                    self.fragments = []
                self.on_text(payload, now)
            elif opcode == 9:  # ping -> pong
                self.transport.write(mask_frame(10, payload))
            elif opcode == 8:
                self.transport.close()
                return
        self.buf = buf[pos:] if pos < size else b""
