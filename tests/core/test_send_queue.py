"""The bounded outgoing queue of each connection (edge.SendQueue), without a server."""

import asyncio

from engineio import packet as eio_packet
from hypothesis import given
from hypothesis import strategies as st

from votemap_site.realtime.edge import SendQueue, packet_size


def message(size: int) -> eio_packet.Packet:
    return eio_packet.Packet(eio_packet.MESSAGE, "x" * size)


@given(sizes=st.lists(st.integers(min_value=0, max_value=500), max_size=60),
       max_packets=st.integers(min_value=1, max_value=30), max_bytes=st.integers(min_value=1, max_value=5000))
def test_never_holds_more_than_its_caps_and_reports_the_overflow_once(sizes, max_packets, max_bytes) -> None:
    overflows = []
    queue = SendQueue(max_packets=max_packets, max_bytes=max_bytes)
    queue.on_overflow = lambda: overflows.append(1)
    expected_overflow = False
    held = held_bytes = 0
    for size in sizes:
        pkt = message(size)
        would_fit = held < max_packets and held_bytes + packet_size(pkt) <= max_bytes
        queue.put_nowait(pkt)
        if not expected_overflow and would_fit:
            held += 1
            held_bytes += packet_size(pkt)
        else:
            expected_overflow = True
        assert queue.qsize() <= max_packets and queue.bytes <= max_bytes
    assert queue.qsize() == held and queue.bytes == held_bytes
    assert len(overflows) == (1 if expected_overflow else 0)


def test_engineio_stop_sentinel_always_passes() -> None:
    queue = SendQueue(max_packets=1, max_bytes=100)
    queue.put_nowait(message(10))
    queue.put_nowait(message(10))  # over: dropped
    queue.put_nowait(None)
    assert queue.qsize() == 2
    assert queue.get_nowait() is not None and queue.get_nowait() is None


def test_getting_frees_bytes_and_restarts_the_stall_clock() -> None:
    queue = SendQueue(max_packets=10, max_bytes=1000)
    queue.put_nowait(message(100))
    start = queue.waiting_since
    assert queue.stalled(now=start + 6, limit=5)
    assert not queue.stalled(now=start + 4, limit=5)
    asyncio.run(_get(queue))
    assert queue.bytes == 0 and not queue.stalled(now=start + 60, limit=5)


async def _get(queue: SendQueue) -> None:
    await queue.get()
