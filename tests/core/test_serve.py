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


def test_only_engineios_heartbeat_pings_the_clients() -> None:
    # uvicorn's own keepalive (a WebSocket ping per connection every 20 s by
    # default) would double Engine.IO's heartbeat for every connection.
    assert _config().ws_ping_interval is None
    assert settings.SOCKETIO_PING_INTERVAL > 0 and settings.SOCKETIO_PING_TIMEOUT > 0
