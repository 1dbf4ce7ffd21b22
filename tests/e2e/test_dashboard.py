"""The vote map in Debian's Chromium (playwright-core) against a live server."""

import pytest

from tests.conftest import run_browser_script

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODES = [f"{n:02d}" for n in range(1, 53)]


@pytest.fixture
def provinces(live_site):
    """The 52 provinces (a transactional test flushes the data migration's rows)."""
    from dashboard.services import provinces_seed

    provinces_seed()
    return live_site


def test_two_pages_see_each_others_votes(browser_available, provinces) -> None:
    from dashboard.models import Province

    result = run_browser_script("dashboard", base_url=provinces.url)
    assert result["errors"] == []

    assert result["map"]["paths"] == 52
    assert result["map"]["codes"] == CODES
    assert result["map"]["focusable"] == 52
    assert result["map"]["tabStops"] == 1  # the map is one tab stop with roving focus
    assert result["map"]["labels"] == 52
    assert result["map"]["canaryInside"] is True
    assert result["map"]["insetBorder"] is True
    assert result["map"]["legend"] >= 2

    assert result["selectedName"] == "Madrid"
    assert "Madrid" in result["upFeedback"]
    assert result["tooltip"] and "Madrid" in result["tooltip"]
    assert (result["afterArrowRight"], result["afterArrowLeft"]) == ("29", "28")  # Málaga after Madrid
    assert result["visibleOptions"] == ["08"]
    assert result["selectedFromList"] == "Barcelona"
    assert result["focusAfterPick"] == "vm-up"
    assert result["tappedName"] == "Palmas, Las"

    assert result["limitedFeedback"] and "try again in" in result["limitedFeedback"][0]
    assert result["sevilla"][0] == result["sevilla"][1]
    assert result["flashed"]["up28"] and result["flashed"]["down28"] and result["flashed"]["up08"]
    assert result["flashed"]["up41"] >= 1
    # keyboard only: the map is reached within a few Tabs, its stop is the first province by name
    assert result["keyboardOnly"]["tabs"] <= 10
    assert result["keyboardOnly"]["province"] == "02"  # Albacete
    assert "Albacete" in result["keyboardOnly"]["feedback"]
    assert result["keyboardOnly"]["afterMap"] == "vm-up"
    assert result["trioAnimating"] == ["33", "39", "48"]
    assert int(result["viewers"]) >= 2

    counts = dict(Province.objects.values_list("code", "votes"))
    shown = {code: counts[code] for code in ("28", "08", "35", "33", "39", "48", "41", "02")}
    assert counts["28"] == 0, shown  # one up, one down
    assert counts["08"] == 1, shown
    assert counts["35"] == 1, shown
    assert counts["33"] == counts["39"] == counts["48"] == 1, shown
    assert counts["02"] == 1, shown
    assert str(counts["41"]) == result["sevilla"][0]
    assert counts["41"] == result["okAcks"] >= 1  # every acked vote counted once
    assert set(result["rejected"]) == {"rate_limited"}
    assert result["top"][0] == "41"


def test_presenter_bot_reconnect_and_staff_reset(browser_available, provinces, make_session) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from dashboard.models import Province

    from django.contrib.auth.models import Permission

    staff = get_user_model().objects.create_user("organiser", password="pw", is_staff=True)
    # What the admin's reset action requires, and so does reset_votes.
    staff.user_permissions.add(Permission.objects.get(codename="change_votingstate"))
    cookie = make_session(user=staff)
    result = run_browser_script(
        "dashboard_live", base_url=provinces.url, timeout=150,
        cookieName=settings.SESSION_COOKIE_NAME, staffSession=cookie[settings.SESSION_COOKIE_NAME],
    )
    assert result["errors"] == []

    assert result["present"]["paths"] == 52
    assert result["present"]["focusable"] == 0  # the presenter view only watches
    assert result["present"]["qrLoaded"] is True
    assert result["present"]["url"] == f"{provinces.url}/map/"

    # The bot sent both directions and they were acked by the server.
    assert result["botStats"]["up"] >= 5 and result["botStats"]["down"] >= 1
    assert result["botStats"]["running"] is False
    assert result["botTotal"] > 0 and result["presentTotal"] == str(result["botTotal"])
    assert result["presentTop"] >= 1
    assert result["presentViewers"] >= 2

    # The vote queued while offline was delivered once; both pages agree.
    assert result["offlineBadge"] in {"offline", "reconnecting"}
    assert result["afterReconnect"]["a"] == result["afterReconnect"]["b"] == result["afterReconnect"]["expected"]
    assert result["afterReconnect"]["aStats"]["ok"] == 1

    assert result["visitorHasReset"] is False
    assert "reset" in result["resetFeedback"].lower()
    assert result["presentTopAfterReset"] == 0
    assert sum(Province.objects.values_list("votes", flat=True)) == 0


def test_closed_voting_and_inactive_province(browser_available, provinces) -> None:
    from dashboard.models import Province, Vote
    from dashboard.services import province_set_active, voting_set_open

    voting_set_open(is_open=False)
    province_set_active(codes=["52"], active=False)
    result = run_browser_script("dashboard_closed", base_url=provinces.url)
    assert result["errors"] == []
    assert result["closedBanner"] is True and result["presentClosed"] is True
    assert result["melilla"] == {"inactive": True, "ariaDisabled": "true", "label": "", "listed": "true"}
    assert result["closedVote"][0] == "closed" and "closed" in result["closedVote"][1]
    assert result["melillaSelected"] == "Not in the vote"
    assert result["inactiveVote"][0] in {"closed", "not_found"}
    assert Vote.objects.count() == 0
    assert sum(Province.objects.values_list("votes", flat=True)) == 0
