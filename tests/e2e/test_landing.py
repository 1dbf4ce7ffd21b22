"""Browser smoke test of `/` in Debian's Chromium (playwright-core)."""

import pytest

from tests.conftest import run_browser_script

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_landing_renders_and_connects(browser_available, live_site) -> None:
    result = run_browser_script("landing", base_url=live_site.url)
    assert result["errors"] == []
    assert result["badgeText"].strip() == "connected"
    assert {"/map/", "/chat/", "/game/"} <= set(result["links"])
    assert result["spanishHeading"].strip() == "Demos en tiempo real"
