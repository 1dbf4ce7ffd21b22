"""Browser test of the chat in Debian's Chromium (playwright-core)."""

import os

import pytest

from tests.conftest import run_browser_script
from tests.helpers import wait_until

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
    xss = "<img src=x onerror=alert(1)>"
    expected = ["Mi gato persigue ratones, el gato nunca duerme", f"{xss} mi gato también", xss]
    assert result["aliceTexts"] == expected
    assert result["bobTexts"] == expected
    # One nickname, two people: the tags beside the name tell them apart.
    assert result["bobAuthors"] == ["Alice", "Alice", "Alice"]
    alice_tag, bob_tag = result["youTags"]
    assert alice_tag != bob_tag
    assert result["bobTags"] == [alice_tag, bob_tag, alice_tag]
    assert result["staffBadges"] == 0
    assert result["imgCount"] == 0
    assert result["dialogs"] == []
    words = {w["word"]: w["title"] for w in result["cloud"]}
    assert "gato" in words and "2" in words["gato"]
    assert "img" in words and "onerror" in words  # the HTML was counted as words, as text
    # Only words both people used trend ("ratones" was Alice's alone).
    assert "ratones" not in words
    assert result["highlighted"].count("gato") == 3


def test_busy_room_renders_its_cloud_and_screenshot(browser_available, chat_rooms, live_site, tmp_path) -> None:
    """A room with a conversation shows its word cloud. CHAT_SCREENSHOT_PATH=docs/img/screenshot-chat.png
    refreshes the README's screenshot; otherwise the picture goes to a temporary folder."""
    sentences = chat_rooms["cats"].sentences + [
        "El gato de mi hermana también duerme en cajas de cartón.",
        "Mi gato y el gato del vecino se miran por la ventana toda la tarde.",
        # Words trend when two people use them: the conversation echoes itself.
        "Los gatos naranjas del refugio también tiran cosas de la mesa.",
        "A mi gata le encanta el rascador nuevo y la comida húmeda.",
    ]
    result = run_browser_script("chat_screenshot", base_url=live_site.url, timeout=120,
                                path=os.path.abspath(os.environ.get("CHAT_SCREENSHOT_PATH") or tmp_path / "chat.png"),
                                sentences=sentences)
    assert result["errors"] == [] and result["words"] >= 8


def test_reconnect_catches_up_without_duplicates(browser_available, chat_rooms, live_site, tmp_path) -> None:
    import threading

    from chat import services

    room = chat_rooms["dogs"]

    def post(text):
        return services.message_post(room_id=room.id, room_slug="dogs", author="Bea",
                                     sender_key="elsewhere", text=text)[0]["id"]

    first = [post(f"antes {i}") for i in range(3)]
    ready = tmp_path / "ready"
    outcome = {}

    def browse():
        outcome["result"] = run_browser_script("chat_reconnect", base_url=live_site.url, before=3,
                                               after=3 + 60, ready=str(ready), last="de vuelta")

    thread = threading.Thread(target=browse)
    thread.start()
    wait_until(lambda: ready.exists() or not thread.is_alive(), timeout=30, message="the page ready")
    assert ready.exists(), outcome
    # Stored while the page is connected but never broadcast: as if missed during an outage.
    missed = [post(f"durante {i}") for i in range(60)]
    namespace = live_site.realtime.namespace("/chat")
    loop = namespace._tick._task.get_loop()
    server = namespace.server

    def drop_connections():
        # Abort the TCP connections under the page's sockets, as a network outage would.
        for sid in list(namespace._joined):
            sock = server.eio.sockets[server.manager.eio_sid_from_sid(sid, "/chat")]
            protocol = getattr(sock, "_votemap_direct_ws", None)
            assert protocol is not None, "the page is not on a WebSocket served by uvicorn"
            protocol.transport.abort()

    loop.call_soon_threadsafe(drop_connections)
    thread.join(60)
    result = outcome["result"]
    assert result["errors"] == []
    # The missed messages were never broadcast: only the catch-up after the
    # reconnection brings them, each once and in order, before the page's own.
    assert result["ids"][:-1] == first + missed
    assert result["ids"][-1] > missed[-1] and result["lastText"] == "de vuelta"
    # (the outage can be too short for the badge to show "reconnecting")
    assert result["badge"] == "connected"


def test_moderation_reaches_the_page(browser_available, chat_rooms, live_site, tmp_path) -> None:
    import threading

    from chat import services
    from chat.models import Room

    room = chat_rooms["dogs"]
    ids = [services.message_post(room_id=room.id, room_slug="dogs", author="Bea",
                                 sender_key="k", text=text)[0]["id"] for text in ("spam spam", "hola perros")]
    ready, deleted = tmp_path / "ready", tmp_path / "deleted"
    outcome = {}

    def browse():
        outcome["result"] = run_browser_script("chat_moderation", base_url=live_site.url,
                                               ready=str(ready), deleted=str(deleted))

    def wait_file(path):
        wait_until(lambda: path.exists() or not thread.is_alive(), timeout=30, message=f"{path.name} written")
        assert path.exists(), outcome

    thread = threading.Thread(target=browse)
    thread.start()
    wait_file(ready)
    services.message_delete(message_ids=[ids[0]])
    wait_file(deleted)
    Room.objects.filter(id=room.id).update(is_open=False)
    thread.join(60)
    result = outcome["result"]
    assert result["errors"] == []
    assert result["left"] == ["hola perros"]
    assert result["inputDisabled"] is True and result["sendDisabled"] is True
