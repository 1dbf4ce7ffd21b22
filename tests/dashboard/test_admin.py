"""The vote map's admin: provinces, votes, voting state; every change reaches clients."""

import csv
import io
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse

from dashboard.models import Province, Vote, VotingState
from dashboard.selectors import voting_state_get
from dashboard.services import vote_cast
from tests.conftest import receive_event

CHANGELIST = "admin:dashboard_province_changelist"


@pytest.fixture
def voted(provinces):
    for code in ("28", "28", "08", "35"):
        vote_cast(province=code, direction="up", voter="abc")


def read_csv(response):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.django_db
class TestProvinceAdmin:
    def test_list_search_and_filter(self, admin_client, voted):
        response = admin_client.get(reverse(CHANGELIST), {"q": "Madrid"})
        assert response.status_code == 200
        assert "Madrid" in response.text and "Barcelona" not in response.text
        Province.objects.filter(code="52").update(active=False)
        response = admin_client.get(reverse(CHANGELIST), {"active__exact": "0"})
        assert "Melilla" in response.text and "Madrid" not in response.text

    def test_counts_are_read_only_and_provinces_cannot_be_added_or_deleted(self, admin_client, voted):
        url = reverse("admin:dashboard_province_change", args=["28"])
        response = admin_client.post(url, {"name": "Madrid", "active": "on", "votes": "999"})
        assert response.status_code == 302
        assert Province.objects.get(code="28").votes == 2
        assert admin_client.get(reverse("admin:dashboard_province_add")).status_code == 403
        assert admin_client.get(reverse("admin:dashboard_province_delete", args=["28"])).status_code == 403

    def test_editing_a_province_bumps_the_revision(self, admin_client, provinces):
        before = voting_state_get().revision
        url = reverse("admin:dashboard_province_change", args=["52"])
        assert admin_client.post(url, {"name": "Melilla"}).status_code == 302  # active unchecked
        assert Province.objects.get(code="52").active is False
        assert voting_state_get().revision == before + 1

    def test_reset_selected(self, admin_client, voted):
        before = voting_state_get()
        response = admin_client.post(
            reverse(CHANGELIST), {"action": "reset_selected", "_selected_action": ["28", "35"]}
        )
        assert response.status_code == 302
        assert dict(Province.objects.filter(votes__gt=0).values_list("code", "votes")) == {"08": 1}
        after = voting_state_get()
        assert after.version == before.version + 1 and after.revision == before.revision + 1
        assert Vote.objects.count() == 4  # the audit log is kept

    def test_export_csv_of_selected_and_of_all(self, admin_client, voted):
        response = admin_client.post(reverse(CHANGELIST), {"action": "export_csv", "_selected_action": ["28", "08"]})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        assert read_csv(response) == [["code", "name", "active", "votes"], ["08", "Barcelona", "yes", "1"],
                                      ["28", "Madrid", "yes", "2"]]
        response = admin_client.get(reverse("admin:dashboard_province_export"))
        rows = read_csv(response)
        assert len(rows) == 53 and rows[1] == ["01", "Araba/Álava", "yes", "0"]
        assert sum(int(r[3]) for r in rows[1:]) == 4

    def test_csv_neutralises_formulas(self, admin_client, provinces):
        Province.objects.filter(code="28").update(name="=HYPERLINK(1)")
        rows = read_csv(admin_client.get(reverse("admin:dashboard_province_export")))
        assert ["28", "'=HYPERLINK(1)", "yes", "0"] in rows

    def test_not_for_anonymous_or_non_staff(self, client, plain_user, provinces):
        assert client.get(reverse("admin:dashboard_province_export")).status_code == 302
        client.force_login(plain_user)
        assert client.get(reverse(CHANGELIST)).status_code == 302
        assert client.post(reverse("admin:dashboard_votingstate_reset_all")).status_code == 302


@pytest.mark.django_db
class TestVoteAdmin:
    def test_read_only_and_filterable(self, admin_client, voted):
        response = admin_client.get(reverse("admin:dashboard_vote_changelist"), {"province__code__exact": "28"})
        assert response.status_code == 200
        vote = Vote.objects.filter(province_id="08").get()
        url = reverse("admin:dashboard_vote_change", args=[vote.pk])
        assert admin_client.get(url).status_code == 200  # view only
        admin_client.post(url, {"direction": "down"})
        assert Vote.objects.get(pk=vote.pk).direction == "up"
        assert admin_client.get(reverse("admin:dashboard_vote_add")).status_code == 403
        assert admin_client.get(reverse("admin:dashboard_vote_delete", args=[vote.pk])).status_code == 403
        response = admin_client.get(reverse("admin:dashboard_vote_changelist"), {"q": str(vote.vote_id)})
        assert str(vote.vote_id) in response.text


@pytest.mark.django_db
class TestVotingStateAdmin:
    def test_open_close_and_reset_all(self, admin_client, voted):
        url = reverse("admin:dashboard_votingstate_changelist")
        assert admin_client.get(url).status_code == 200
        admin_client.post(url, {"action": "close_voting", "_selected_action": ["1"]})
        assert VotingState.objects.get().is_open is False
        change = reverse("admin:dashboard_votingstate_change", args=[1])
        page = admin_client.get(change)
        assert page.status_code == 200 and "reset-all-votes" in page.text
        revision = voting_state_get().revision
        assert admin_client.post(change, {"is_open": "on"}).status_code == 302
        assert VotingState.objects.get().is_open is True
        assert voting_state_get().revision == revision + 1
        reset = reverse("admin:dashboard_votingstate_reset_all")
        assert admin_client.get(reset).status_code == 405
        assert admin_client.post(reset).status_code == 302
        assert sum(Province.objects.values_list("votes", flat=True)) == 0


@pytest.mark.django_db(transaction=True)
async def test_an_admin_action_reaches_connected_clients_as_a_snapshot(provinces, sio_client, admin_user):
    client = await sio_client("/map-dashboard")
    await receive_event(client, "snapshot")
    ack = await client.call("vote", {"province": "28", "direction": "up", "vote_id": str(uuid.uuid4())})
    assert ack["ok"]

    def close_and_reset_in_the_admin():
        browser = Client(HTTP_HOST="localhost")
        browser.force_login(admin_user)
        state_list = reverse("admin:dashboard_votingstate_changelist")
        assert browser.post(state_list, {"action": "close_voting", "_selected_action": ["1"]}).status_code == 302

    await sync_to_async(close_and_reset_in_the_admin)()
    snapshot = await receive_event(client, "snapshot")
    assert snapshot["open"] is False
    assert {"code": "28", "name": "Madrid", "votes": 1} in snapshot["provinces"]
    refused = await client.call("vote", {"province": "28", "direction": "up"})
    assert refused["error"]["code"] == "closed"

    def reset_in_the_admin():
        browser = Client(HTTP_HOST="localhost")
        browser.force_login(admin_user)
        assert browser.post(reverse("admin:dashboard_votingstate_reset_all")).status_code == 302

    await sync_to_async(reset_in_the_admin)()
    snapshot = await receive_event(client, "snapshot")
    assert {p["votes"] for p in snapshot["provinces"]} == {0}
