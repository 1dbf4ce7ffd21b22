"""The benchmark generator's raw WebSocket client (bench/grid_game/loadgen.py):
it skips the bulk of every state frame, so its frame parsing must hold however
the bytes are split into reads, or the benchmark's latencies are wrong."""

import asyncio
import json
import socket
import struct

import pytest

from bench.grid_game.loadgen import KEEP, SKIM_MIN, RawWebSocket, SkimSocket, open_skim

HANDSHAKE = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"


def server_frame(payload: bytes, opcode: int = 1) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 126)) + struct.pack("!H", n)
    else:
        head = bytes((0x80 | opcode, 127)) + struct.pack("!Q", n)
    return head + payload


def state(tick: int, players: int) -> bytes:
    body = {"arena": "a", "tick": tick, "players": [{"id": f"p{i}", "name": "ü" * 3, "x": i, "y": 0}
                                                    for i in range(players)]}
    return f'42/grid-game,["state",{json.dumps(body, separators=(",", ":"))}]'.encode()  # as socket.io encodes


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


def stream() -> tuple[bytes, list[int], list[str]]:
    ack = '43/grid-game,7[{"ok":true,"data":{"tick":5}}]'
    big_ack = '43/grid-game,8[{"ok":true,"data":' + json.dumps({"pad": "x" * 70000}) + "}]"
    frames = [
        server_frame(b'0{"sid":"s"}'),
        server_frame(state(11, 0)),  # short: below KEEP
        server_frame(state(12, 40)),  # 126..65535 bytes
        server_frame(ack.encode()),
        server_frame(b"", opcode=9),  # ping
        server_frame(state(13, 2000)),  # over 65535 bytes
        server_frame(big_ack.encode()),  # long, not a state: kept whole
        server_frame(b"2"),
    ]
    return HANDSHAKE + b"".join(frames), [11, 12, 13], ['0{"sid":"s"}', ack, big_ack, "2"]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, KEEP - 1, KEEP, KEEP + 1, 1000, 65536, 10**7])
async def test_frames_parse_whatever_the_read_sizes(chunk):
    data, ticks, texts = stream()
    seen_ticks, seen_texts = [], []
    client = RawWebSocket(seen_texts.append, lambda tick, now: seen_ticks.append(tick))
    client.connection_made(FakeTransport())
    for i in range(0, len(data), chunk):
        client.data_received(data[i:i + chunk])
    assert client.opened.done() and client.opened.exception() is None
    assert seen_ticks == ticks
    assert seen_texts == texts
    # The ping was answered with a masked pong (mask bit set, zero key).
    assert client.transport.written[-1] == b"\x8a\x80\0\0\0\0"


async def test_client_frames_are_masked_with_a_zero_key():
    client = RawWebSocket(lambda text: None, lambda tick, now: None)
    client.connection_made(FakeTransport())
    client.send("x" * 200)
    frame = client.transport.written[-1]
    assert frame[:4] == bytes((0x81, 0x80 | 126)) + struct.pack("!H", 200)
    assert frame[4:8] == b"\0\0\0\0" and frame[8:] == b"x" * 200


async def test_a_refused_handshake_fails_the_connection():
    client = RawWebSocket(lambda text: None, lambda tick, now: None)
    client.connection_made(FakeTransport())
    client.data_received(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    with pytest.raises(ConnectionError):
        client.opened.result()


# ----- the skimming client (--client skim) -----------------------------------

class FakeSocket:
    """A non-blocking TCP socket whose bytes arrive `chunk` at a time: `recv`
    copies, `recv_into(..., MSG_TRUNC)` discards (as Linux does for TCP)."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self.data, self.chunk = data, chunk
        self.pos = self.arrived = 0
        self.copied = self.discarded = 0
        self.sent: list[bytes] = []

    def fileno(self) -> int:
        return -1

    def arrive(self) -> None:
        self.arrived = min(len(self.data), self.arrived + self.chunk)

    def available(self) -> int:
        return self.arrived - self.pos

    def recv(self, n: int) -> bytes:
        take = min(n, self.available())
        if not take:
            raise BlockingIOError
        self.pos += take
        self.copied += take
        return self.data[self.pos - take:self.pos]

    def recv_into(self, buffer, n: int, flags: int) -> int:
        assert flags == socket.MSG_TRUNC and n <= len(buffer)
        take = min(n, self.available())
        if not take:
            raise BlockingIOError
        self.pos += take
        self.discarded += take
        return take

    def send(self, data) -> int:
        self.sent.append(bytes(data))
        return len(data)

    def close(self) -> None:
        pass


def skim_stream() -> tuple[bytes, list[int], list[bytes]]:
    data, ticks, texts = stream()
    data = data[len(HANDSHAKE):]
    # A state between SKIM_MIN and 65535 bytes, and one just below SKIM_MIN.
    medium = state(14, 100)
    assert SKIM_MIN < len(medium) < 65536
    small = state(15, 1)
    small = small[:-2] + b',"pad":"' + b"x" * (SKIM_MIN - 20 - len(small)) + b'"}]'
    assert KEEP < len(small) < SKIM_MIN
    data += server_frame(medium) + server_frame(small) + server_frame(b"2")
    return data, ticks + [14, 15], [t.encode() for t in texts] + [b"2"]


def drive(chunk: int, *, keep_states: bool = False):
    data, ticks, texts = skim_stream()
    fake = FakeSocket(data, chunk)
    seen_ticks, seen_texts = [], []
    conn = SkimSocket(fake, on_text=lambda payload, now: seen_texts.append(payload),
                      on_state=lambda tick, now: seen_ticks.append(tick))
    conn.keep_states = keep_states
    while fake.pos < len(data):
        fake.arrive()
        while fake.available():
            conn._readable()
    return conn, fake, seen_ticks, seen_texts, ticks, texts


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, KEEP - 1, KEEP, KEEP + 1, 511, 512, 513, 1000, 4096, 65536,
                                   10**7])
async def test_skimmed_frames_parse_whatever_the_arrivals(chunk):
    conn, fake, seen_ticks, seen_texts, ticks, texts = drive(chunk)
    assert seen_ticks == ticks
    assert seen_texts == texts
    assert not conn.pending and not conn.skip
    # Some of the big states never reached the process (how much depends on
    # where the reads fell), and every byte was either copied or discarded.
    assert fake.discarded > 0
    assert fake.copied + fake.discarded == len(fake.data)
    # The ping was answered with a masked pong (mask bit set, zero key).
    assert b"\x8a\x80\0\0\0\0" in fake.sent


@pytest.mark.parametrize("chunk", [1, 500, 10**7])
async def test_keep_states_reads_big_states_whole(chunk):
    conn, fake, seen_ticks, _, ticks, _ = drive(chunk, keep_states=True)
    assert seen_ticks == ticks
    assert fake.discarded == 0
    assert json.loads(conn.last_state[len(b"42/grid-game,"):])[1]["tick"] == 15


async def test_skim_socket_over_tcp_discards_in_the_kernel_and_sends_masked_frames():
    """A real loopback connection: the handshake, a 1 MB state written in
    pieces (skimmed with MSG_TRUNC), then an ack; and the client's frame."""
    big = state(21, 20000)
    assert len(big) > 10**6
    received = asyncio.get_running_loop().create_future()

    async def serve(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(HANDSHAKE + server_frame(state(20, 1)))
        frame = server_frame(big)
        for i in range(0, len(frame), 100000):
            writer.write(frame[i:i + 100000])
            await writer.drain()
            await asyncio.sleep(0.001)
        writer.write(server_frame(b'43/grid-game,1[{"ok":true}]'))
        await writer.drain()
        received.set_result(await reader.readexactly(6 + 5))
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ticks, texts = [], []
    done = asyncio.get_running_loop().create_future()

    def on_text(payload, now):
        texts.append(payload)
        done.set_result(None)

    conn = await open_skim(f"ws://127.0.0.1:{port}/socket.io/", on_text=on_text,
                           on_state=lambda tick, now: ticks.append(tick))
    await asyncio.wait_for(done, 10)
    assert ticks == [20, 21]
    assert texts == [b'43/grid-game,1[{"ok":true}]']
    assert not conn.pending and not conn.skip
    conn.send("hello")
    assert await asyncio.wait_for(received, 10) == b"\x81\x85\0\0\0\0hello"
    conn.close()
    server.close()
    await server.wait_closed()


async def test_a_refused_skim_handshake_fails_the_connection():
    async def serve(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 403 Forbidden\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with pytest.raises(ConnectionError, match="403"):
        await open_skim(f"ws://127.0.0.1:{port}/", on_text=None, on_state=None)
    server.close()
    await server.wait_closed()


async def test_a_fragmented_frame_ends_the_skim_connection_loudly():
    fake = FakeSocket(bytes((0x01, 3)) + b"abc", 100)  # a text frame without FIN
    lost = []
    conn = SkimSocket(fake, on_text=None, on_state=None, on_lost=lambda: lost.append(True))
    conn.loop = FakeLoop()
    fake.arrive()
    with pytest.raises(ConnectionError):
        conn._readable()
    assert conn.closed and lost == [True]


class FakeLoop:
    def remove_reader(self, fd) -> None:
        pass

    def remove_writer(self, fd) -> None:
        pass
