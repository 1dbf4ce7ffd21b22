"""The chat's tick grows with the rooms it fans out to (votemap_site/realtime/fanout.py).

A committed batch is broadcast to every member of its rooms on this worker,
one socket write per member per tick: a longer tick for a large room carries
several messages per write. Pure properties with Hypothesis on the namespace's
choice, then the namespace driven with a simulated clock (the group commit's
ticker gets an injected clock and sleep, so no test waits on real time).
"""

import asyncio
import uuid

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from chat import sockets
from chat.rooms import presence_key
from chat.schemas import SendMessagePayload
from tests.helpers import record_emits
from votemap_site.realtime.fanout import tick_for_audience
from votemap_site.realtime.identity import anonymous_identity
from votemap_site.realtime.presence import LocalPresence
from votemap_site.realtime.ticker import Ticker

TICKS = {"CHAT_TICK_MS": 10, "CHAT_TICK_PER_MEMBER_US": 25.0, "CHAT_TICK_MAX_MS": 50}

slugs = st.sampled_from(["a", "b", "c", "d", "e"])
room_sizes = st.dictionaries(slugs, st.integers(min_value=0, max_value=50_000))
batches = st.lists(slugs, min_size=1, max_size=30)


def bare_namespace(sizes: dict[str, int], totals: dict[str, int] | None = None) -> sockets.ChatNamespace:
    """A namespace that is not started (no database), with these local members per
    room and these last counted totals over all workers."""
    with override_settings(**TICKS):
        ns = sockets.ChatNamespace("/chat", presence=LocalPresence())
    for slug, count in sizes.items():
        if count:
            ns.presence._counts[presence_key(slug)] = count
    ns._last_members.update(totals or {})
    return ns


def tick_after(sizes: dict[str, int], batch: list[str], totals: dict[str, int] | None = None) -> float:
    ns = bare_namespace(sizes, totals)
    ns._adapt_tick(batch)
    return ns.commit_tick


# ----- the namespace's choice (pure: no database, no clock) -------------------------
@given(sizes=room_sizes, batch=batches)
def test_the_tick_stays_between_chat_tick_ms_and_its_ceiling(sizes, batch):
    assert 0.010 <= tick_after(sizes, batch) <= 0.050


@given(sizes=room_sizes, batch=batches, more=batches)
def test_more_rooms_in_a_batch_never_shorten_the_tick(sizes, batch, more):
    assert tick_after(sizes, batch) <= tick_after(sizes, batch + more)


@given(sizes=room_sizes, batch=batches, room=slugs, extra=st.integers(min_value=1, max_value=10_000))
def test_a_larger_room_never_gets_a_shorter_tick(sizes, batch, room, extra):
    larger = {**sizes, room: sizes.get(room, 0) + extra}
    assert tick_after(sizes, batch) <= tick_after(larger, batch)


@given(sizes=room_sizes, batch=batches, repeats=st.integers(min_value=1, max_value=20))
def test_many_messages_for_one_room_count_its_members_once(sizes, batch, repeats):
    # One write per member per tick, however many of the batch's messages it gets.
    assert tick_after(sizes, batch * repeats) == tick_after(sizes, batch)


@given(sizes=room_sizes, batch=batches)
def test_the_tick_is_the_fan_out_of_the_batch_rooms_members(sizes, batch):
    members = sum(sizes.get(slug, 0) for slug in set(batch))
    assert tick_after(sizes, batch) == tick_for_audience(members, base=0.010, per_connection=25e-6,
                                                         ceiling=0.050)


@given(sizes=room_sizes, totals=room_sizes, batch=batches)
def test_members_on_other_workers_count_as_members(sizes, totals, batch):
    # Every worker writes each batch to its own members: the room's total is the fan-out.
    members = sum(max(sizes.get(slug, 0), totals.get(slug, 0)) for slug in set(batch))
    assert tick_after(sizes, batch, totals) == tick_for_audience(members, base=0.010, per_connection=25e-6,
                                                                 ceiling=0.050)
    assert tick_after(sizes, batch, totals) >= tick_after(sizes, batch)


def test_a_room_split_over_workers_gets_the_tick_of_its_whole_size():
    assert tick_after({"a": 500}, ["a"]) == pytest.approx(0.0125)
    assert tick_after({"a": 500}, ["a"], totals={"a": 2000}) == 0.050  # four workers of 500
    assert tick_after({"a": 500}, ["a"], totals={"a": 300}) == pytest.approx(0.0125)  # joined since the count


@given(sizes=room_sizes, batch=batches)
def test_members_of_other_rooms_do_not_lengthen_the_tick(sizes, batch):
    only_batch = {slug: count for slug, count in sizes.items() if slug in batch}
    assert tick_after(sizes, batch) == tick_after(only_batch, batch)


def test_tick_figures_with_the_default_settings(settings):
    ns = sockets.ChatNamespace("/chat", presence=LocalPresence())
    assert (ns.base_commit_tick, ns.commit_tick_per_member, ns.commit_tick_ceiling) == (0.010, 25e-6, 0.050)

    def tick(members):
        return tick_for_audience(members, base=ns.base_commit_tick, per_connection=ns.commit_tick_per_member,
                                 ceiling=ns.commit_tick_ceiling)

    assert tick(0) == tick(200) == tick(400) == 0.010  # a room of 200 keeps the 10 ms tick
    assert tick(1000) == pytest.approx(0.025)
    assert tick(2000) == tick(20_000) == 0.050  # never beyond the ceiling


# ----- the namespace applies it to its group commit ------------------------------------
class Clock:
    """The group commit ticker's clock: time moves only when it sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
async def namespace(rooms, settings, monkeypatch):
    for name, value in TICKS.items():
        setattr(settings, name, value)
    clock = Clock()

    def ticker(**kwargs):
        if kwargs["name"] == "chat-messages":
            kwargs.update(clock=clock, sleep=clock.sleep)
        return Ticker(**kwargs)

    monkeypatch.setattr(sockets, "Ticker", ticker)
    ns = sockets.ChatNamespace("/chat", presence=LocalPresence())
    record_emits(ns)
    await ns.start()
    identity = anonymous_identity("sid-1")
    ns._identities["sid-1"] = identity
    ns._nicknames[identity.key] = "Nick"
    ns._joined["sid-1"] = {"cats", "dogs"}
    ns.clock = clock
    yield ns
    await ns.stop()


async def members(ns, slug, count):
    for _ in range(count):
        await ns.presence.join(presence_key(slug))


async def send(ns, room, text):
    payload = SendMessagePayload(room=room, text=text, client_id=str(uuid.uuid4()))
    ack = await ns.on_send_message("sid-1", payload)
    return ack["message"]


@pytest.mark.django_db(transaction=True)
async def test_a_large_room_waits_the_longer_tick_and_a_small_one_the_base_tick(namespace):
    await members(namespace, "cats", 2000)
    await members(namespace, "dogs", 3)
    clock = namespace.clock
    await send(namespace, "cats", "uno")  # due one base tick after start
    assert namespace.commit_tick == 0.050 and namespace._flusher.interval == 0.050
    await send(namespace, "cats", "dos")  # within the large room's tick of the previous batch
    await send(namespace, "dogs", "tres")  # the tick of the last batch (cats), then back to the base
    assert namespace.commit_tick == 0.010 and namespace._flusher.interval == 0.010
    await send(namespace, "dogs", "cuatro")
    assert clock.sleeps == pytest.approx([0.010, 0.050, 0.050, 0.010])
    assert namespace.batches_committed == 4
    broadcast = [m["text"] for event, m, _ in namespace.sent if event == "message"]
    assert broadcast == ["uno", "dos", "tres", "cuatro"]


@pytest.mark.django_db(transaction=True)
async def test_the_first_message_after_a_quiet_spell_goes_at_once_even_in_a_large_room(namespace):
    await members(namespace, "cats", 2000)
    await send(namespace, "cats", "uno")
    assert namespace.commit_tick == 0.050
    namespace.clock.now += 1.0  # a second without messages
    await send(namespace, "cats", "dos")
    assert namespace.clock.sleeps[-1] == 0.0


@pytest.mark.django_db(transaction=True)
async def test_messages_arriving_within_a_large_rooms_tick_are_one_batch(namespace):
    await members(namespace, "cats", 2000)
    await send(namespace, "cats", "uno")
    # While the ticker waits out the large room's tick, more messages arrive: one
    # commit (and one broadcast round, one write per member) for all of them.
    acks = await asyncio.gather(*[send(namespace, "cats", f"m{i}") for i in range(8)])
    assert [m["text"] for m in acks] == [f"m{i}" for i in range(8)]
    assert namespace.batches_committed == 2
    assert namespace.clock.sleeps[-1] == pytest.approx(0.050)
