"""The ticker coalesces many changes into one callback per interval."""

import asyncio

from votemap_site.realtime.ticker import Ticker


async def test_many_changes_in_one_interval_make_one_callback() -> None:
    calls: list[float] = []

    async def flush() -> None:
        calls.append(asyncio.get_running_loop().time())

    ticker = Ticker(name="t", interval=0.1, callback=flush)
    ticker.start()
    try:
        for _ in range(50):
            ticker.mark_dirty()
        await asyncio.sleep(0.05)
        for _ in range(50):
            ticker.mark_dirty()
        await asyncio.sleep(0.3)
        assert 1 <= len(calls) <= 2
        # Nothing dirty: no more callbacks.
        before = len(calls)
        await asyncio.sleep(0.3)
        assert len(calls) == before
        # Successive callbacks are at least one interval apart.
        ticker.mark_dirty()
        await asyncio.sleep(0.05)
        ticker.mark_dirty()
        await asyncio.sleep(0.3)
        gaps = [b - a for a, b in zip(calls, calls[1:])]
        assert all(gap >= 0.095 for gap in gaps)
    finally:
        await ticker.stop()
    assert not ticker.running


async def test_a_failing_callback_does_not_stop_the_ticker(caplog) -> None:
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")

    ticker = Ticker(name="flaky", interval=0.02, callback=flaky, always=True)
    ticker.start()
    await asyncio.sleep(0.2)
    await ticker.stop()
    assert calls >= 3
    assert "ticker flaky: callback failed" in caplog.text
