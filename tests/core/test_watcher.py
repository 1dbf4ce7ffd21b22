"""The watcher tells an app only when the marker it polls has changed.

`check()` is what each tick runs; the tests call it directly, so they are
about what one poll does, not about timing.
"""

import pytest

from votemap_site.realtime.watcher import Watcher


class Source:
    """A marker in "the database", and a record of what the app was told."""

    def __init__(self, marker: object = 1) -> None:
        self.marker = marker
        self.reads = 0
        self.told: list[object] = []
        self.reply: object = None
        self.fail = False

    def read(self) -> object:
        self.reads += 1
        if self.fail:
            raise RuntimeError("database unavailable")
        return self.marker

    async def changed(self, marker: object) -> object:
        self.told.append(marker)
        return self.reply


async def direct(read):
    """Run the read in the loop: these tests need no database (the apps' tests cover db())."""
    return read()


def watcher(source: Source, **kwargs) -> Watcher:
    return Watcher(name="w", interval=0.1, read=source.read, changed=source.changed, run=direct, **kwargs)


async def test_the_first_marker_is_the_baseline_and_only_changes_are_told() -> None:
    source = Source(marker=5)
    w = watcher(source)
    await w.check()
    assert w.seen == 5 and source.told == []
    await w.check()
    assert source.told == []  # nothing changed: nothing to tell
    source.marker = 6
    await w.check()
    assert source.told == [6] and w.seen == 6
    await w.check()
    assert source.told == [6]  # told once per change, not once per poll


async def test_a_newer_marker_returned_by_the_app_is_not_told_again() -> None:
    source = Source(marker=1)
    w = watcher(source)
    await w.check()
    source.marker, source.reply = 2, 3  # what the app read and sent already included change 3
    await w.check()
    assert w.seen == 3
    source.marker, source.reply = 3, None
    await w.check()
    assert source.told == [2]


async def test_an_inactive_app_is_not_polled_and_starts_again_from_a_baseline() -> None:
    source = Source(marker=1)
    clients = [1]
    w = watcher(source, active=lambda: bool(clients))
    await w.check()
    clients.clear()
    source.marker = 2
    reads = source.reads
    await w.check()
    assert source.reads == reads and w.seen is None  # no read while nobody could be told
    clients.append(1)
    await w.check()
    assert w.seen == 2 and source.told == []  # the new clients got fresh state their own way


async def test_notify_first_tells_the_app_about_its_first_marker_too() -> None:
    source = Source(marker="a")
    w = watcher(source, notify_first=True)
    await w.check()
    assert source.told == ["a"]
    await w.check()
    assert source.told == ["a"]


async def test_a_failed_read_or_callback_leaves_the_change_for_the_next_poll() -> None:
    source = Source(marker=1)
    w = watcher(source)
    await w.check()
    source.marker, source.fail = 2, True
    with pytest.raises(RuntimeError):
        await w.check()
    assert w.seen == 1
    source.fail = False

    async def broken(marker: object) -> object:
        raise RuntimeError("emit failed")

    w._changed = broken
    with pytest.raises(RuntimeError):
        await w.check()
    assert w.seen == 1  # not brought up to 2: told again next time
    w._changed = source.changed
    await w.check()
    assert source.told == [2] and w.seen == 2


async def test_it_runs_on_a_ticker() -> None:
    source = Source(marker=1)
    w = watcher(source)
    w.start()
    try:
        assert w.running and w.ticker.always
    finally:
        await w.stop()
    assert not w.running


async def test_then_runs_after_every_check_on_the_same_tick() -> None:
    source = Source(marker=1)
    order: list[str] = []

    async def changed(marker: object) -> None:
        order.append("changed")

    async def then() -> None:
        order.append(f"then after {source.reads} reads")

    w = Watcher(name="w", interval=0.1, read=source.read, changed=changed, then=then, run=direct)
    await w._tick()
    source.marker = 2
    await w._tick()
    assert order == ["then after 1 reads", "changed", "then after 2 reads"]
