"""`/map-dashboard` through a live server: every event and error code of the protocol."""

import asyncio
import time
import uuid

import pytest
from asgiref.sync import sync_to_async

from dashboard import services
from dashboard.models import Province, Vote
from tests.conftest import receive_event

NS = "/map-dashboard"
pytestmark = [pytest.mark.django_db(transaction=True)]

ALL_UNLIMITED = pytest.mark.map_settings(DASHBOARD_VOTE_BURST=10_000, DASHBOARD_VOTE_RATE=10_000.0)


async def connect(sio_client, **kwargs):
    """A connected client and the snapshot it received on connecting."""
    client = await sio_client(NS, **kwargs)
    snapshot = await receive_event(client, "snapshot")
    return client, snapshot


async def events_until(client, event, predicate, timeout=10.0):
    """Payloads of `event` received until one satisfies `predicate` (all of them, in order)."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        payload = await receive_event(client, event, timeout=max(0.01, deadline - time.monotonic()))
        seen.append(payload)
        if predicate(payload):
            return seen


def counts_of(snapshot):
    return {p["code"]: p["votes"] for p in snapshot["provinces"]}


async def db_votes(code):
    return await sync_to_async(lambda: Province.objects.get(code=code).votes)()


async def test_snapshot_on_connect(provinces, sio_client):
    client, snapshot = await connect(sio_client)
    assert set(snapshot) == {"version", "open", "viewers", "provinces"}
    from dashboard.selectors import voting_state_get

    stored = await sync_to_async(voting_state_get)()
    assert snapshot["version"] == stored.version and snapshot["open"] is True
    assert snapshot["viewers"] >= 1
    assert len(snapshot["provinces"]) == 52
    assert {"code": "28", "name": "Madrid", "votes": 0} in snapshot["provinces"]
    assert {"code": "51", "name": "Ceuta", "votes": 0} in snapshot["provinces"]
    ack = await client.call("get_snapshot", {})
    assert ack["ok"] is True
    assert set(ack["data"]) == {"version", "open", "viewers", "provinces"}
    assert ack["data"]["provinces"] == snapshot["provinces"]


async def test_vote_ack_and_both_clients_see_the_delta(provinces, sio_client):
    alice, snap = await connect(sio_client)
    bob, _ = await connect(sio_client)
    ack = await alice.call("vote", {"province": "28", "direction": "up", "vote_id": str(uuid.uuid4())})
    assert ack == {"ok": True, "data": {"province": "28", "votes": 1, "version": snap["version"] + 1}}
    for client in (alice, bob):
        delta = await receive_event(client, "votes")
        assert delta == {"version": snap["version"] + 1, "counts": {"28": 1}}
    ack = await bob.call("vote", {"province": "08", "direction": "up"})  # vote_id is optional
    assert ack["ok"] and ack["data"]["votes"] == 1
    delta = await receive_event(alice, "votes")
    assert delta == {"version": snap["version"] + 2, "counts": {"08": 1}}
    ack = await bob.call("vote", {"province": "08", "direction": "down"})
    assert ack["data"]["votes"] == 0
    assert (await receive_event(alice, "votes"))["counts"] == {"08": 0}
    assert await db_votes("28") == 1 and await db_votes("08") == 0


async def test_down_at_zero_is_acked_without_a_delta(provinces, sio_client):
    client, snap = await connect(sio_client)
    ack = await client.call("vote", {"province": "33", "direction": "down"})
    assert ack == {"ok": True, "data": {"province": "33", "votes": 0, "version": snap["version"]}}
    await client.call("vote", {"province": "28", "direction": "up"})
    # The next delta is the next version: the floored vote did not use one.
    assert await receive_event(client, "votes") == {"version": snap["version"] + 1, "counts": {"28": 1}}


async def test_versions_grow_by_exactly_one_per_delta(provinces, sio_client):
    voter, snap = await connect(sio_client)
    viewer, _ = await connect(sio_client)
    acks = []
    for i in range(12):
        ack = await voter.call("vote", {"province": "28" if i % 3 else "46", "direction": "up"})
        acks.append(ack["data"]["version"])
    last = acks[-1]
    deltas = await events_until(viewer, "votes", lambda d: d["version"] >= last)
    versions = [d["version"] for d in deltas]
    assert versions == list(range(snap["version"] + 1, last + 1))
    assert deltas[-1]["counts"] == {"28": 8}
    merged = {}
    for delta in deltas:
        merged.update(delta["counts"])
    assert merged == {"28": 8, "46": 4}


async def test_a_retried_vote_id_is_counted_once(provinces, sio_client):
    client, _ = await connect(sio_client)
    vote = {"province": "28", "direction": "up", "vote_id": str(uuid.uuid4())}
    first = await client.call("vote", vote)
    await client.call("vote", {"province": "28", "direction": "up"})
    again = await client.call("vote", vote)
    assert first["data"]["votes"] == 1
    assert again["ok"] and again["data"]["votes"] == 2  # the current count, not counted again
    assert await db_votes("28") == 2
    assert await sync_to_async(Vote.objects.count)() == 2


BAD_PAYLOADS = [
    "28",
    ["28", "up"],
    28,
    None,
    True,
    {},
    {"province": "28"},
    {"direction": "up"},
    {"province": "28", "direction": "up", "extra": 1},
    {"province": 28, "direction": "up"},
    {"province": 28.0, "direction": "up"},
    {"province": "8", "direction": "up"},
    {"province": "028", "direction": "up"},
    {"province": "2a", "direction": "up"},
    {"province": "28\n", "direction": "up"},
    {"province": " 28", "direction": "up"},
    {"province": "２８", "direction": "up"},
    {"province": "", "direction": "up"},
    {"province": None, "direction": "up"},
    {"province": ["28"], "direction": "up"},
    {"province": {"code": "28"}, "direction": "up"},
    {"province": "28", "direction": "UP"},
    {"province": "28", "direction": "sideways"},
    {"province": "28", "direction": 1},
    {"province": "28", "direction": True},
    {"province": "28", "direction": "up", "vote_id": "not-a-uuid"},
    {"province": "28", "direction": "up", "vote_id": str(uuid.uuid1())},
    {"province": "28", "direction": "up", "vote_id": 12345},
    {"province": "28", "direction": "up", "vote_id": "x" * 5000},
    {"province": "x" * 5000, "direction": "up"},
]


@ALL_UNLIMITED
async def test_invalid_payloads_change_nothing(provinces, sio_client):
    client, snap = await connect(sio_client)
    for payload in BAD_PAYLOADS:
        ack = await client.call("vote", payload)
        assert ack["ok"] is False, payload
        assert ack["error"]["code"] == "invalid", (payload, ack)
        assert isinstance(ack["error"]["message"], str) and ack["error"]["message"]
    # Nothing, and extra positional arguments.
    assert (await client.call("vote"))["error"]["code"] == "invalid"
    ack = await client.call("vote", ({"province": "28", "direction": "up"}, "more"))
    assert ack["error"]["code"] == "invalid"
    for event in ("get_snapshot", "reset_votes"):
        for payload in ({"x": 1}, "now", [1]):
            assert (await client.call(event, payload))["error"]["code"] == "invalid"
    assert await sync_to_async(Vote.objects.count)() == 0
    after = (await client.call("get_snapshot", {}))["data"]
    assert after["version"] == snap["version"] and counts_of(after) == counts_of(snap)
    # The connection still works.
    assert (await client.call("vote", {"province": "28", "direction": "up"}))["ok"]


async def test_unknown_event(provinces, sio_client):
    client, _ = await connect(sio_client)
    ack = await client.call("vote_twice", {"province": "28", "direction": "up"})
    assert ack["ok"] is False and ack["error"]["code"] == "unknown_event"


async def test_unknown_and_inactive_provinces_are_not_found(provinces, sio_client):
    await sync_to_async(services.province_set_active)(codes=["52"], active=False)
    client, snap = await connect(sio_client)
    assert "52" not in counts_of(snap) and len(snap["provinces"]) == 51
    for code in ("99", "00", "54", "52"):
        ack = await client.call("vote", {"province": code, "direction": "up"})
        assert ack["ok"] is False and ack["error"]["code"] == "not_found", (code, ack)
    assert await sync_to_async(Vote.objects.count)() == 0


async def test_closed_voting(provinces, sio_client):
    client, _ = await connect(sio_client)
    await sync_to_async(services.voting_set_open)(is_open=False)
    pushed = await receive_event(client, "snapshot")
    assert pushed["open"] is False
    ack = await client.call("vote", {"province": "28", "direction": "up"})
    assert ack["ok"] is False and ack["error"]["code"] == "closed"
    assert await db_votes("28") == 0
    await sync_to_async(services.voting_set_open)(is_open=True)
    assert (await receive_event(client, "snapshot"))["open"] is True
    assert (await client.call("vote", {"province": "28", "direction": "up"}))["ok"]


async def test_reset_is_forbidden_without_staff_rights(provinces, plain_user, make_session, sio_client):
    anonymous, _ = await connect(sio_client)
    member, _ = await connect(sio_client, cookies=make_session(user=plain_user))
    visitor, _ = await connect(sio_client, cookies=make_session())
    await anonymous.call("vote", {"province": "28", "direction": "up"})
    for client in (anonymous, member, visitor):
        ack = await client.call("reset_votes", {})
        assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
    assert await db_votes("28") == 1


async def test_staff_reset_sends_everyone_a_zero_snapshot(provinces, staff_user, make_session, sio_client):
    staff, _ = await connect(sio_client, cookies=make_session(user=staff_user))
    viewer, _ = await connect(sio_client)
    for code in ("28", "08", "28"):
        await viewer.call("vote", {"province": code, "direction": "up"})
    await events_until(viewer, "votes", lambda d: d["counts"].get("28") == 2)
    ack = await staff.call("reset_votes", {})
    assert ack["ok"] is True and set(ack["data"]) == {"version"}
    for client in (staff, viewer):
        snapshot = await receive_event(client, "snapshot")
        assert set(counts_of(snapshot).values()) == {0}
        assert snapshot["version"] >= ack["data"]["version"]
    assert await db_votes("28") == 0
    # Voting goes on from zero, and the next delta follows the reset's version.
    vote = await viewer.call("vote", {"province": "28", "direction": "up"})
    assert vote["data"] == {"province": "28", "votes": 1, "version": ack["data"]["version"] + 1}


def _log_out(user, session_key):
    from django.contrib.sessions.backends.db import SessionStore

    SessionStore(session_key).flush()  # what django.contrib.auth.logout does


def _demote(user, session_key):
    user.is_staff = False
    user.save(update_fields=["is_staff"])


def _deactivate(user, session_key):
    user.is_active = False
    user.save(update_fields=["is_active"])


def _remove_permission(user, session_key):
    user.user_permissions.clear()


def _change_password(user, session_key):
    user.set_password("another-pw-for-tests")  # the session's auth hash no longer matches
    user.save(update_fields=["password"])


def _delete_user(user, session_key):
    user.delete()


@pytest.mark.parametrize("revoke", [_log_out, _demote, _deactivate, _remove_permission, _change_password,
                                    _delete_user])
async def test_reset_rights_are_checked_when_the_event_arrives(
    provinces, staff_user, make_session, sio_client, revoke
):
    cookies = make_session(user=staff_user)
    staff, _ = await connect(sio_client, cookies=cookies)
    assert (await staff.call("reset_votes", {}))["ok"] is True  # privileged while the rights hold
    await staff.call("vote", {"province": "28", "direction": "up"})
    await sync_to_async(revoke)(staff_user, cookies["sessionid"])
    ack = await staff.call("reset_votes", {})  # the same open socket
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden", ack
    assert ack["error"]["message"]
    assert await db_votes("28") == 1


async def test_reset_needs_the_admin_reset_permission_or_a_superuser(
    provinces, django_user_model, make_session, sio_client
):
    from tests.dashboard.conftest import grant

    def users():
        bare = django_user_model.objects.create_user("bare-staff", password="pw-for-tests-only", is_staff=True)
        viewer = grant(django_user_model.objects.create_user("viewer", password="pw-for-tests-only",
                                                             is_staff=True), "view_votingstate")
        boss = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-for-tests-only")
        return bare, viewer, boss

    bare, viewer, boss = await sync_to_async(users)()
    await (await connect(sio_client))[0].call("vote", {"province": "28", "direction": "up"})
    for user in (bare, viewer):
        client, _ = await connect(sio_client, cookies=make_session(user=user))
        ack = await client.call("reset_votes", {})
        assert ack["ok"] is False and ack["error"]["code"] == "forbidden", (user.username, ack)
    assert await db_votes("28") == 1
    superuser, _ = await connect(sio_client, cookies=make_session(user=boss))
    assert (await superuser.call("reset_votes", {}))["ok"] is True
    assert await db_votes("28") == 0


async def test_rate_limited_with_retry_after(provinces, sio_client, settings):
    client, _ = await connect(sio_client)
    burst = settings.DASHBOARD_VOTE_BURST
    acks = await asyncio.gather(
        *[client.call("vote", {"province": "28", "direction": "up"}) for _ in range(burst + 15)]
    )
    accepted = [a for a in acks if a["ok"]]
    limited = [a for a in acks if not a["ok"]]
    assert limited and all(a["error"]["code"] == "rate_limited" for a in limited)
    assert all(a["error"]["retry_after"] > 0 for a in limited)
    assert len(accepted) >= burst
    assert await db_votes("28") == len(accepted)
    assert max(a["data"]["votes"] for a in accepted) == len(accepted)


async def test_reconnecting_client_converges_through_the_snapshot(provinces, sio_client, live_site):
    import socketio

    viewer = socketio.AsyncSimpleClient()
    await viewer.connect(live_site.url, namespace=NS, transports=["websocket"])
    first = await receive_event(viewer, "snapshot")
    await viewer.disconnect()
    voter, _ = await connect(sio_client)
    for code in ("28", "28", "35"):
        last = await voter.call("vote", {"province": code, "direction": "up"})
    await viewer.connect(live_site.url, namespace=NS, transports=["websocket"])
    try:
        again = await receive_event(viewer, "snapshot")
    finally:
        await viewer.disconnect()
    assert again["version"] == last["data"]["version"] > first["version"]
    assert counts_of(again)["28"] == 2 and counts_of(again)["35"] == 1


async def test_viewers_counts_connections(provinces, sio_client):
    alice, snap = await connect(sio_client)
    assert snap["viewers"] == 1
    await events_until(alice, "viewers", lambda v: v == {"count": 1})
    bob, bob_snap = await connect(sio_client)
    assert bob_snap["viewers"] == 2
    await events_until(alice, "viewers", lambda v: v["count"] == 2)
    await bob.disconnect()
    await events_until(alice, "viewers", lambda v: v["count"] == 1)


async def test_an_admin_service_change_is_pushed_as_a_snapshot(provinces, sio_client):
    alice, _ = await connect(sio_client)
    bob, _ = await connect(sio_client)
    await alice.call("vote", {"province": "28", "direction": "up"})
    await sync_to_async(services.province_set_active)(codes=["28"], active=False)
    for client in (alice, bob):
        snapshot = await receive_event(client, "snapshot")
        assert "28" not in counts_of(snapshot)
    await sync_to_async(services.votes_reset)(codes=["08"])
    assert (await receive_event(alice, "snapshot"))["open"] is True
