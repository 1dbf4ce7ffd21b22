"""Browser test of the chat in Debian's Chromium (playwright-core)."""

import os

import pytest

from tests.conftest import run_browser_script

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chat_rooms(transactional_db):
    from tests.chat.conftest import _create_rooms

    return _create_rooms()


def test_two_pages_chat_and_html_stays_text(browser_available, chat_rooms, live_site) -> None:
    params = {}
    if os.environ.get("CHAT_SCREENSHOT"):
        params["screenshot"] = os.environ["CHAT_SCREENSHOT"]
    result = run_browser_script("chat", base_url=live_site.url, **params)
    assert result["errors"] == []
    assert set(result["listLinks"]) == {"/chat/cats/", "/chat/dogs/"}
    assert result["sendDisabledWhenEmpty"] is True
    assert result["counter"] == "46/500"
    expected = ["Mi gato persigue ratones, el gato nunca duerme", "<img src=x onerror=alert(1)>"]
    assert result["aliceTexts"] == expected
    assert result["bobTexts"] == expected
    assert result["bobAuthors"][0] == "Alice"
    assert result["imgCount"] == 0
    assert result["dialogs"] == []
    words = {w["word"]: w["title"] for w in result["cloud"]}
    assert "gato" in words and "2" in words["gato"]
    assert "img" in words and "onerror" in words  # the HTML was counted as words, as text
    assert result["highlighted"].count("gato") == 2


@pytest.mark.skipif(not os.environ.get("CHAT_SCREENSHOT_PATH"), reason="set CHAT_SCREENSHOT_PATH to refresh the README's screenshot")
def test_screenshot_for_the_readme(browser_available, chat_rooms, live_site) -> None:
    sentences = chat_rooms["cats"].sentences + [
        "El gato de mi hermana también duerme en cajas de cartón.",
        "Mi gato y el gato del vecino se miran por la ventana toda la tarde.",
    ]
    result = run_browser_script("chat_screenshot", base_url=live_site.url, timeout=120,
                                path=os.path.abspath(os.environ["CHAT_SCREENSHOT_PATH"]), sentences=sentences)
    assert result["errors"] == [] and result["words"] >= 8
