"""Services of the vote map: the counter rule, idempotency, group commit, resets, concurrency."""

import importlib
import threading
import uuid
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection, connections
from django.db.utils import OperationalError
from django.test.utils import CaptureQueriesContext

from dashboard import services
from dashboard.ine import PROVINCES
from dashboard.models import Province, Vote, VotingState
from dashboard.selectors import map_snapshot, voting_state_get
from dashboard.services import VoteRequest, vote_cast, vote_cast_batch
from votemap_site.realtime.errors import CLOSED, NOT_FOUND, RealtimeError

pytestmark = pytest.mark.django_db


def req(province="28", direction="up", vote_id=None, voter="v1"):
    return VoteRequest(vote_id=vote_id or uuid.uuid4(), province=province, direction=direction, voter=voter)


def count(code):
    return Province.objects.get(code=code).votes


def test_migration_loaded_52_provinces_with_official_names(provinces):
    assert Province.objects.count() == 52
    names = dict(Province.objects.values_list("code", "name"))
    assert names["01"] == "Araba/Álava"
    assert names["03"] == "Alicante/Alacant"
    assert names["07"] == "Balears, Illes"
    assert names["15"] == "Coruña, A"
    assert names["35"] == "Palmas, Las"
    assert names["46"] == "Valencia/València"
    assert names["51"] == "Ceuta" and names["52"] == "Melilla"
    assert sorted(names) == [f"{i:02d}" for i in range(1, 53)]
    assert dict(PROVINCES) == names
    assert VotingState.objects.get(pk=1).is_open


def test_loading_the_initial_data_again_resets_nothing(provinces):
    vote_cast(province="28", direction="up")
    services.voting_set_open(is_open=False)
    Province.objects.filter(code="52").update(active=False)
    before = list(Province.objects.values_list("code", "name", "active", "votes"))
    state_before = voting_state_get()
    migration = importlib.import_module("dashboard.migrations.0002_initial_data")
    migration.load(django_apps, SimpleNamespace(connection=connection))
    assert list(Province.objects.values_list("code", "name", "active", "votes")) == before
    assert voting_state_get() == state_before
    assert services.provinces_seed() == 0


def test_up_and_down_with_the_floor_at_zero(provinces):
    assert vote_cast(province="28", direction="down").votes == 0
    assert vote_cast(province="28", direction="up").votes == 1
    assert vote_cast(province="28", direction="up").votes == 2
    assert vote_cast(province="28", direction="down").votes == 1
    assert count("28") == 1
    applied = list(Vote.objects.order_by("id").values_list("applied", flat=True))
    assert applied == [0, 1, 1, -1]


def test_a_batch_applies_votes_in_arrival_order_with_the_per_vote_floor(provinces):
    result = vote_cast_batch(requests=[req("08", "up"), req("08", "down"), req("08", "down"), req("33", "down")])
    assert [o.votes for o in result.outcomes] == [1, 0, 0, 0]
    assert count("08") == 0 and count("33") == 0
    assert result.changed == {}  # 08 went 0 -> 1 -> 0: nothing to broadcast
    result = vote_cast_batch(requests=[req("08", "down"), req("08", "down"), req("08", "up")])
    assert [o.votes for o in result.outcomes] == [0, 0, 1]
    assert count("08") == 1
    assert result.changed == {"08": 1}


def test_version_advances_once_per_batch_that_changed_a_count(provinces):
    v0 = voting_state_get().version
    r1 = vote_cast_batch(requests=[req("28"), req("08"), req("28")])
    assert r1.version == v0 + 1
    assert r1.delta == {"version": v0 + 1, "counts": {"28": 2, "08": 1}}
    assert {o.version for o in r1.outcomes} == {v0 + 1}
    r2 = vote_cast_batch(requests=[req("33", "down")])  # floored: no change, no new version
    assert r2.version == v0 + 1 and r2.delta is None
    assert voting_state_get().version == v0 + 1


def test_a_retried_vote_id_is_counted_once_and_acked_with_the_current_count(provinces):
    vote_id = uuid.uuid4()
    first = vote_cast(province="28", direction="up", vote_id=vote_id)
    assert first.votes == 1 and not first.duplicate
    vote_cast(province="28", direction="up")
    again = vote_cast(province="28", direction="up", vote_id=str(vote_id))
    assert again.duplicate and again.votes == 2
    # Even a retry naming another province refers to the recorded vote.
    other = vote_cast(province="08", direction="down", vote_id=vote_id)
    assert other.duplicate and other.province == "28"
    assert count("28") == 2 and Vote.objects.count() == 2


def test_duplicates_inside_one_batch_count_once(provinces):
    vote_id = uuid.uuid4()
    result = vote_cast_batch(requests=[req("28", vote_id=vote_id)] * 3 + [req("28")])
    assert [o.duplicate for o in result.outcomes] == [False, True, True, False]
    assert count("28") == 2 and Vote.objects.filter(vote_id=vote_id).count() == 1


def test_group_commit_costs_the_same_queries_for_1_or_200_votes(provinces):
    with CaptureQueriesContext(connection) as one:
        vote_cast_batch(requests=[req("28")])
    many = [req(code) for code, _ in PROVINCES for _ in range(4)]
    with CaptureQueriesContext(connection) as lots:
        result = vote_cast_batch(requests=many[:200])
    assert len(lots.captured_queries) == len(one.captured_queries)
    # One INSERT (executemany) for all the votes, one BEGIN ... COMMIT.
    assert sum(1 for q in lots.captured_queries if "INSERT INTO" in q["sql"]) == 1
    assert sum(1 for q in lots.captured_queries if q["sql"].startswith(("BEGIN", "SAVEPOINT"))) == 1
    assert Vote.objects.count() == 201
    assert sum(result.changed.values()) == sum(Province.objects.values_list("votes", flat=True)) == 201


def test_closed_voting_refuses_new_votes_but_acks_retries(provinces):
    recorded = uuid.uuid4()
    vote_cast(province="28", direction="up", vote_id=recorded)
    services.voting_set_open(is_open=False)
    with pytest.raises(RealtimeError) as exc:
        vote_cast(province="28", direction="up")
    assert exc.value.code == CLOSED
    assert vote_cast(province="28", direction="up", vote_id=recorded).duplicate
    assert count("28") == 1 and Vote.objects.count() == 1
    services.voting_set_open(is_open=True)
    assert vote_cast(province="28", direction="up").votes == 2


def test_unknown_and_inactive_provinces_are_not_found(provinces):
    services.province_set_active(codes=["52"], active=False)
    for code in ["52", "99", "00", "54"]:
        with pytest.raises(RealtimeError) as exc:
            vote_cast(province=code, direction="up")
        assert exc.value.code == NOT_FOUND
    assert Vote.objects.count() == 0
    result = vote_cast_batch(requests=[req("99"), req("28")])
    assert [o.error for o in result.outcomes] == [NOT_FOUND, None]
    assert count("28") == 1


def test_reset_zeroes_counts_keeps_the_log_and_advances_version_and_revision(provinces):
    vote_id = uuid.uuid4()
    vote_cast(province="28", direction="up", vote_id=vote_id)
    vote_cast(province="08", direction="up")
    before = voting_state_get()
    version = services.votes_reset(codes=["28"])
    assert version == before.version + 1
    assert count("28") == 0 and count("08") == 1
    after = voting_state_get()
    assert after.revision == before.revision + 1
    services.votes_reset()
    assert sum(Province.objects.values_list("votes", flat=True)) == 0
    assert Vote.objects.count() == 2
    # A late retry of a vote from before the reset is still not counted again.
    assert vote_cast(province="28", direction="up", vote_id=vote_id).duplicate
    assert count("28") == 0


def test_admin_style_changes_bump_the_revision(provinces):
    r0 = voting_state_get().revision
    services.voting_set_open(is_open=False)
    services.province_set_active(codes=["28"], active=False)
    assert services.province_set_active(codes=["28"], active=False) == 0  # no change, no bump
    assert voting_state_get().revision == r0 + 2
    snapshot = map_snapshot()
    assert snapshot["open"] is False
    assert "28" not in {p["code"] for p in snapshot["provinces"]} and len(snapshot["provinces"]) == 51


def test_snapshot_shape(provinces):
    vote_cast(province="28", direction="up")
    snapshot = map_snapshot()
    assert set(snapshot) == {"version", "open", "revision", "provinces"}
    assert snapshot["provinces"][0] == {"code": "01", "name": "Araba/Álava", "votes": 0}
    assert {"code": "28", "name": "Madrid", "votes": 1} in snapshot["provinces"]
    assert snapshot["version"] == voting_state_get().version


@pytest.mark.django_db(transaction=True)
def test_many_threads_voting_on_a_file_database(provinces):
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        assert name and ":memory:" not in str(name) and "mode=memory" not in str(name)
    threads, per_thread = 12, 40
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def voter(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                if i % 4 == 0:  # some batches too, as the namespace sends them
                    vote_cast_batch(requests=[req(f"{(n % 52) + 1:02d}"), req("28")])
                else:
                    vote_cast(province="28", direction="up", voter=f"t{n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=voter, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not [e for e in errors if isinstance(e, OperationalError)], errors[:3]
    assert not errors, errors[:3]
    expected = threads * (per_thread + per_thread // 4)
    assert Vote.objects.count() == expected
    assert sum(Province.objects.values_list("votes", flat=True)) == expected
    # Every batch that changed a count got its own version: 1 per transaction here.
    assert voting_state_get().version == threads * per_thread
