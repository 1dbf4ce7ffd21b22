"""A namespace on a Socket.IO path of its own (GAME_SOCKETIO_PATH), so a proxy
can send all its traffic to one dedicated worker."""

import pytest
import socketio

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def game_path_site(settings, request):
    settings.GAME_SOCKETIO_PATH = "game-socket.io"
    settings.SOCKETIO_NAMESPACE_PATHS = {"/grid-game": "game-socket.io"}
    return request.getfixturevalue("live_site")


async def connect(url: str, namespace: str, path: str = "socket.io") -> socketio.AsyncSimpleClient:
    client = socketio.AsyncSimpleClient()
    await client.connect(url, namespace=namespace, socketio_path=path, transports=["websocket"], wait_timeout=5)
    return client


async def test_game_is_served_on_its_own_path_only(game_path_site) -> None:
    game = await connect(game_path_site.url, "/grid-game", path="game-socket.io")
    try:
        ack = await game.call("list_arenas", {})
        assert ack["ok"] is True
    finally:
        await game.disconnect()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(game_path_site.url, "/grid-game")  # the shared path is refused for the game


async def test_other_namespaces_stay_on_the_shared_path(game_path_site) -> None:
    lobby = await connect(game_path_site.url, "/lobby")
    try:
        assert (await lobby.call("get_stats", {}))["ok"] is True
    finally:
        await lobby.disconnect()


def test_pages_tell_the_browser_the_game_path(settings, client) -> None:
    settings.SOCKETIO_NAMESPACE_PATHS = {"/grid-game": "game-socket.io"}
    html = client.get("/").content.decode()
    assert '<script id="socket-paths" type="application/json">{"/grid-game": "/game-socket.io/"}</script>' in html


def test_without_the_setting_everything_shares_socket_io(client) -> None:
    html = client.get("/").content.decode()
    assert '<script id="socket-paths" type="application/json">{}</script>' in html
