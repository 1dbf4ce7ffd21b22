"""broadcast.FrameCoalescer: the frames of one loop iteration leave in one write per transport."""

import asyncio

from votemap_site.realtime.broadcast import FrameCoalescer


class Transport:
    def __init__(self, closing=False):
        self.writes: list[bytes] = []
        self.closing = closing

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing


async def test_frames_of_one_iteration_are_one_write_per_transport_in_order():
    frames = FrameCoalescer()
    one, two, gone = Transport(), Transport(), Transport(closing=True)
    for transport, frame in [(one, b"a"), (two, b"x"), (one, b"b"), (gone, b"z"), (one, b"c")]:
        frames.write(transport, frame)
    assert one.writes == two.writes == []  # nothing before the loop runs the flush
    await asyncio.sleep(0)
    assert one.writes == [b"abc"] and two.writes == [b"x"] and gone.writes == []
    assert frames.writes == 2 and frames.frames == 5
    # The next iteration is a new write (nothing is held back longer).
    frames.write(one, b"d")
    await asyncio.sleep(0)
    assert one.writes == [b"abc", b"d"]


async def test_held_frames_are_found_by_socket_until_the_flush():
    frames = FrameCoalescer()
    transport, sock = Transport(), object()
    frames.write(transport, b"a", sock=sock)
    frames.held[sock].append(b"b")  # what a later emit of the same iteration does
    frames.write(transport, b"c")  # an ack for the same connection
    await asyncio.sleep(0)
    assert transport.writes == [b"abc"] and frames.held == {}
