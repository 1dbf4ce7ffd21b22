"""`python -m votemap_site.serve`: the flags it gives uvicorn are the ones uvicorn runs with."""

import uvicorn
from django.conf import settings

from votemap_site.serve import uvicorn_options


def _config() -> uvicorn.Config:
    return uvicorn.Config("votemap_site.asgi:application", **uvicorn_options())


def test_websocket_messages_are_capped_at_engineios_packet_limit() -> None:
    config = _config()
    assert config.ws == "websockets-sansio"
    assert config.ws_max_size == settings.SOCKETIO_MAX_HTTP_BUFFER_SIZE
    assert config.ws_per_message_deflate is False


def test_the_websocket_keepalive_stays_on() -> None:
    # A client can answer Engine.IO's PINGs blind; a WebSocket pong must echo
    # the ping's random payload. uvicorn's keepalive is what closes a client
    # that never reads while the kernel still buffers what it is sent
    # (tests/core/test_edge.py, the "stall" case, fails without it).
    config = _config()
    assert config.ws_ping_interval and config.ws_ping_interval > 0
    assert config.ws_ping_timeout and config.ws_ping_timeout > 0
