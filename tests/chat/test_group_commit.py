"""The chat's group commit: a tick's messages in ONE transaction, acked after it, in order.

`services.message_post_batch` directly, and the namespace driven directly (no
network, as tests/dashboard/test_group_commit.py does for the map).
"""

import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from chat import services, sockets
from chat.models import Message, Room
from chat.schemas import SendMessagePayload
from chat.services import MessageRequest, message_post_batch
from votemap_site.realtime.errors import RealtimeError
from votemap_site.realtime.identity import anonymous_identity
from tests.helpers import record_emits
from votemap_site.realtime.presence import LocalPresence

pytestmark = [pytest.mark.django_db(transaction=True)]

BOOM = "boom: this row makes the database fail"


def req(room, text="hola", *, sender="k1", client_id=None):
    return MessageRequest(room_id=room.id, room_slug=room.slug, author="Ana", sender_key=sender, text=text,
                          client_id=client_id)


def _trigger_sql(vendor: str) -> tuple[list[str], list[str]]:
    """(create, drop) statements of a trigger that rejects inserting a message whose text is BOOM."""
    if vendor == "sqlite":
        return (
            [f"CREATE TRIGGER fail_half_way BEFORE INSERT ON chat_message WHEN NEW.text = '{BOOM}'"
             " BEGIN SELECT RAISE(ABORT, 'injected failure half way through the batch'); END"],
            ["DROP TRIGGER fail_half_way"],
        )
    if vendor == "postgresql":
        return (
            ["CREATE FUNCTION fail_half_way() RETURNS trigger LANGUAGE plpgsql AS"
             f" $$ BEGIN IF NEW.text = '{BOOM}' THEN RAISE EXCEPTION 'injected failure'; END IF;"
             " RETURN NEW; END $$",
             "CREATE TRIGGER fail_half_way BEFORE INSERT ON chat_message"
             " FOR EACH ROW EXECUTE FUNCTION fail_half_way()"],
            ["DROP TRIGGER fail_half_way ON chat_message", "DROP FUNCTION fail_half_way()"],
        )
    pytest.skip(f"no failure trigger for {connection.vendor}")


@pytest.fixture
def failing_row():
    create, drop = _trigger_sql(connection.vendor)
    with connection.cursor() as cursor:
        for statement in create:
            cursor.execute(statement)
    yield
    with connection.cursor() as cursor:
        for statement in drop:
            cursor.execute(statement)


# ----- the service ---------------------------------------------------------------
def test_a_batch_is_stored_in_order_and_duplicates_in_it_are_one_message(rooms):
    cats = rooms["cats"]
    one, two = uuid.uuid4(), uuid.uuid4()
    outcomes = message_post_batch(requests=[
        req(cats, "primero", client_id=one),
        req(cats, "sin id"),
        req(cats, "retry of the first, other text", client_id=one),
        req(cats, "same client id, another sender", sender="k2", client_id=one),
        req(cats, "segundo", client_id=two),
    ])
    assert [o.created for o in outcomes] == [True, True, False, True, True]
    assert outcomes[2].message == outcomes[0].message
    ids = [o.message["id"] for o in outcomes if o.created]
    assert ids == sorted(ids) and len(set(ids)) == 4  # ids follow arrival order
    stored = list(Message.objects.order_by("id").values_list("text", "sender_key", "client_id"))
    assert stored == [("primero", "k1", one), ("sin id", "k1", None),
                      ("same client id, another sender", "k2", one), ("segundo", "k1", two)]
    # What the batch answers is what the database holds (and what a later read returns).
    from chat.selectors import message_list_newest
    assert [o.message for o in outcomes if o.created] == message_list_newest(room_id=cats.id, room_slug="cats")


def test_a_retry_in_a_later_batch_gets_the_stored_message(rooms):
    cats = rooms["cats"]
    cid = uuid.uuid4()
    (first,) = message_post_batch(requests=[req(cats, "hola", client_id=cid)])
    again, new = message_post_batch(requests=[req(cats, "hola otra vez", client_id=cid), req(cats, "nuevo")])
    assert not again.created and again.message == first.message
    assert new.created and new.message["id"] > first.message["id"]
    assert Message.objects.count() == 2


def test_a_closed_room_refuses_its_messages_and_the_rest_of_the_batch_is_stored(rooms):
    Room.objects.filter(slug="dogs").update(is_open=False)
    outcomes = message_post_batch(requests=[req(rooms["cats"], "a"), req(rooms["dogs"], "b"),
                                            req(rooms["cats"], "c")])
    assert [o.created for o in outcomes] == [True, False, True]
    assert outcomes[1].error is not None and outcomes[1].error.code == "closed"
    assert list(Message.objects.values_list("text", flat=True)) == ["a", "c"]


def test_a_database_error_half_way_stores_nothing_of_the_batch(rooms, failing_row):
    cats = rooms["cats"]
    with pytest.raises(Exception, match="injected failure"):
        message_post_batch(requests=[req(cats, "antes"), req(cats, BOOM), req(cats, "después")])
    assert Message.objects.count() == 0


def test_an_empty_batch_is_a_programming_error():
    with pytest.raises(ValueError):
        message_post_batch(requests=[])


# ----- the namespace ---------------------------------------------------------------
@pytest.fixture
async def namespace(rooms, settings):
    settings.CHAT_TICK_MS = 50
    ns = sockets.ChatNamespace("/chat", presence=LocalPresence())
    record_emits(ns)
    await ns.start()
    for sid in ("sid-1", "sid-2"):
        identity = anonymous_identity(sid)
        ns._identities[sid] = identity
        ns._nicknames[identity.key] = f"Nick{sid[-1]}"
        ns._joined[sid] = {"cats"}
    yield ns
    await ns.stop()


def send(text, client_id=None):
    return SendMessagePayload(room="cats", text=text, client_id=client_id)


def broadcast(ns):
    return [data for event, data, _ in ns.sent if event == "message"]


async def test_concurrent_messages_are_one_transaction_acked_after_commit_then_broadcast(namespace, monkeypatch):
    calls = []
    real = services.message_post_batch

    def recording(*, requests):
        outcomes = real(requests=requests)  # returns after the commit
        calls.append([r.text for r in requests])
        return outcomes

    monkeypatch.setattr(services, "message_post_batch", recording)
    n = 30

    async def one(i):
        ack = await namespace.on_send_message(f"sid-{1 + i % 2}", send(f"mensaje {i}", str(uuid.uuid4())))
        assert calls, "acked before the batch was committed"
        return ack

    acks = await asyncio.gather(*[one(i) for i in range(n)])
    assert calls == [[f"mensaje {i}" for i in range(n)]]  # one batch, in arrival order
    assert namespace.batches_committed == 1
    messages = [ack["message"] for ack in acks]
    assert [m["text"] for m in messages] == [f"mensaje {i}" for i in range(n)]
    assert [m["id"] for m in messages] == sorted(m["id"] for m in messages)
    assert broadcast(namespace) == messages  # every new message once, in order
    assert await sync_to_async(Message.objects.count)() == n


async def test_a_retry_inside_one_batch_is_one_message_and_one_broadcast(namespace):
    cid = str(uuid.uuid4())
    first, retry = await asyncio.gather(namespace.on_send_message("sid-1", send("hola", cid)),
                                        namespace.on_send_message("sid-1", send("hola", cid)))
    assert namespace.batches_committed == 1
    assert first == retry
    assert broadcast(namespace) == [first["message"]]
    again = await namespace.on_send_message("sid-1", send("hola", cid))  # a later batch
    assert again == first and len(broadcast(namespace)) == 1
    assert await sync_to_async(Message.objects.count)() == 1


async def test_a_failure_half_way_answers_every_message_internal_and_stores_nothing(namespace, failing_row):
    cids = [str(uuid.uuid4()) for _ in range(3)]
    texts = ["antes", BOOM, "después"]
    results = await asyncio.gather(
        *[namespace.on_send_message("sid-1", send(text, cid)) for text, cid in zip(texts, cids, strict=True)],
        return_exceptions=True,
    )
    assert all(isinstance(r, RealtimeError) and r.code == "internal" for r in results), results
    assert broadcast(namespace) == []
    assert await sync_to_async(Message.objects.count)() == 0
    # Nothing of the batch was kept: the same client ids store new messages on a retry
    # (the middle one, as a client would after fixing it, without the failing text).
    acks = await asyncio.gather(*[namespace.on_send_message("sid-1", send(t, c)) for t, c in zip(
        ["antes", "ahora sí", "después"], cids, strict=True)])
    assert [a["message"]["text"] for a in acks] == ["antes", "ahora sí", "después"]
    assert await sync_to_async(Message.objects.count)() == 3


async def test_messages_queued_at_shutdown_are_still_committed(namespace):
    tasks = [asyncio.ensure_future(namespace.on_send_message("sid-1", send(f"m{i}"))) for i in range(5)]
    await asyncio.sleep(0)  # queued, not yet flushed
    await namespace.stop()
    acks = await asyncio.gather(*tasks)
    assert [a["message"]["text"] for a in acks] == [f"m{i}" for i in range(5)]
    assert await sync_to_async(Message.objects.count)() == 5
    with pytest.raises(RealtimeError):
        await namespace.on_send_message("sid-1", send("too late"))
