"""The benchmark generator's raw WebSocket client (bench/grid_game/loadgen.py):
it skips the bulk of every state frame, so its frame parsing must hold however
the bytes are split into reads, or the benchmark's latencies are wrong."""

import json
import struct

import pytest

from bench.grid_game.loadgen import KEEP, RawWebSocket

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
