import io

import pytest
from django.core.management import CommandError, call_command

from dashboard.models import Province
from dashboard.selectors import voting_state_get
from dashboard.services import vote_cast

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command("map_voting", *args, stdout=out)
    return out.getvalue()


def test_status_open_close_and_reset(provinces):
    for code in ("28", "28", "08"):
        vote_cast(province=code, direction="up")
    status = run("status")
    assert "voting open" in status and "3 votes" in status and "28 Madrid: 2" in status
    revision = voting_state_get().revision
    assert "voting closed" in run("close")
    assert voting_state_get().revision == revision + 1 and not voting_state_get().is_open
    assert "voting open" in run("open")
    run("reset", "28")
    assert dict(Province.objects.filter(votes__gt=0).values_list("code", "votes")) == {"08": 1}
    assert "0 votes" in run("reset")


def test_bad_arguments(provinces):
    with pytest.raises(CommandError):
        run("reset", "99")
    with pytest.raises(CommandError):
        run("open", "28")
    with pytest.raises(CommandError):
        run("explode")
