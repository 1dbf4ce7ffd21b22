"""The Origin check of Socket.IO requests (votemap_site/realtime/origins.py).

Unit tests of `origin_allowed` with environs shaped as Engine.IO's ASGI driver
builds them (note that it copies any X-Forwarded-Proto into `wsgi.url_scheme`),
then the Engine.IO handshake on a live server: a refusal must be the server's
own answer (HTTP 400 "not an accepted origin" on polling, 403 on the WebSocket
upgrade), not just any connection error.
"""

import asyncio
import json
import urllib.error
import urllib.request

import pytest
import websockets
from websockets.asyncio.client import connect as ws_connect

from votemap_site.realtime.origins import origin_allowed, request_scheme

HOST = "votes.example.org"
PROXY = ("HTTP_X_FORWARDED_PROTO", "https")


def environ(host=HOST, *, scheme="http", forwarded_proto=None, kind="http", **headers):
    """What engineio.async_drivers.asgi.translate_request hands to the Origin check."""
    env = {"HTTP_HOST": host, "asgi.scope": {"type": kind, "scheme": scheme}}
    if forwarded_proto is not None:
        env["HTTP_X_FORWARDED_PROTO"] = forwarded_proto
    env.update(headers)
    env["wsgi.url_scheme"] = env.get("HTTP_X_FORWARDED_PROTO", "http")
    return env


@pytest.fixture
def site(settings):
    settings.ALLOWED_HOSTS = [HOST, "127.0.0.1"]
    settings.SOCKETIO_ALLOWED_ORIGINS = []
    settings.SECURE_PROXY_SSL_HEADER = None
    return settings


# ----- the function -------------------------------------------------------------
def test_no_origin_is_not_a_browser_and_passes(site):
    assert origin_allowed(None, environ()) is True


@pytest.mark.parametrize("kind,scheme", [("http", "http"), ("websocket", "ws")])
def test_the_sites_own_origin_passes(site, kind, scheme):
    assert origin_allowed(f"http://{HOST}", environ(kind=kind, scheme=scheme)) is True
    assert origin_allowed("http://127.0.0.1:8000", environ("127.0.0.1:8000", kind=kind, scheme=scheme)) is True


@pytest.mark.parametrize("kind,scheme", [("http", "https"), ("websocket", "wss")])
def test_tls_terminated_by_the_server_itself_is_https(site, kind, scheme):
    assert origin_allowed(f"https://{HOST}", environ(kind=kind, scheme=scheme)) is True
    assert origin_allowed(f"http://{HOST}", environ(kind=kind, scheme=scheme)) is False


@pytest.mark.parametrize("origin", [
    "http://127.0.0.1:8001",  # another port
    "http://127.0.0.1",  # no port: another origin
    "https://127.0.0.1:8000",  # another scheme
    "ws://127.0.0.1:8000",
    "http://localhost:8000",  # another name of the same machine, not the Host sent
    "http://127.0.0.1:8000/",  # an Origin never has a path
    "http://127.0.0.1:8000/chat/",
    "http://user@127.0.0.1:8000",
    "http://127.0.0.1:8000?x=1",
    "null",
    "",
])
def test_anything_but_the_exact_own_origin_is_refused(site, origin):
    assert origin_allowed(origin, environ("127.0.0.1:8000")) is False


def test_a_host_outside_allowed_hosts_is_refused_even_with_a_matching_origin(site):
    # DNS rebinding: a page on attacker.example whose name now resolves to this server
    # sends Origin and Host of attacker.example, which match each other.
    assert origin_allowed("http://attacker.example", environ("attacker.example")) is False
    assert origin_allowed("http://attacker.example:8000", environ("attacker.example:8000")) is False
    assert origin_allowed("http://", environ("")) is False


def test_allowed_hosts_patterns_are_honoured(site):
    site.ALLOWED_HOSTS = [".example.org"]
    assert origin_allowed("http://maps.example.org", environ("maps.example.org")) is True
    assert origin_allowed("http://example.org.evil", environ("example.org.evil")) is False


def test_a_forwarded_proto_is_ignored_without_a_trusted_proxy(site):
    # Without DJANGO_BEHIND_TLS_PROXY any client could send the header: it must not pick the scheme.
    env = environ(forwarded_proto="https")
    assert request_scheme(env) == "http"
    assert origin_allowed(f"https://{HOST}", env) is False
    assert origin_allowed(f"http://{HOST}", env) is True


def test_behind_a_tls_proxy_the_forwarded_proto_decides(site):
    site.SECURE_PROXY_SSL_HEADER = PROXY
    assert origin_allowed(f"https://{HOST}", environ(forwarded_proto="https")) is True
    assert origin_allowed(f"http://{HOST}", environ(forwarded_proto="https")) is False
    # The first value is the proxy's own (the one next to the client); anything but the secure value is http.
    assert origin_allowed(f"https://{HOST}", environ(forwarded_proto="https, http")) is True
    assert origin_allowed(f"https://{HOST}", environ(forwarded_proto="http")) is False
    assert origin_allowed(f"http://{HOST}", environ(forwarded_proto="http")) is True
    # Only the exact secure value means https (not a value that merely sorts after it).
    for other in ["ftp", "wss", "httpz", "HTTPS", ""]:
        assert request_scheme(environ(forwarded_proto=other)) == "http", other
    # No header: the connection's own scheme.
    assert origin_allowed(f"http://{HOST}", environ()) is True
    assert origin_allowed(f"https://{HOST}", environ()) is False
    # The Host check still applies behind the proxy.
    assert origin_allowed("https://attacker.example", environ("attacker.example", forwarded_proto="https")) is False


def test_the_configured_proxy_header_is_the_one_read(site):
    site.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_SSL", "on")
    assert origin_allowed(f"https://{HOST}", environ(HTTP_X_FORWARDED_SSL="on")) is True
    assert origin_allowed(f"https://{HOST}", environ(forwarded_proto="https")) is False
    assert origin_allowed(f"http://{HOST}", environ(HTTP_X_FORWARDED_SSL="off", forwarded_proto="https")) is True


def test_a_configured_allow_list_is_matched_exactly(site):
    site.SOCKETIO_ALLOWED_ORIGINS = ["https://votes.example.org", "http://127.0.0.1:8000"]
    assert origin_allowed("https://votes.example.org", environ()) is True
    assert origin_allowed("http://127.0.0.1:8000", environ("attacker.example")) is True
    for other in ["http://votes.example.org", "https://votes.example.org:8443", "https://votes.example.org/",
                  "http://127.0.0.1:8001", f"http://{HOST}"]:
        assert origin_allowed(other, environ()) is False, other


# ----- the Engine.IO handshake on a live server -----------------------------------
def polling_handshake(url: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(f"{url}/socket.io/?EIO=4&transport=polling", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def websocket_handshake(live_site, origin: str, headers: dict[str, str] | None = None) -> int | str:
    """The HTTP status of a refused upgrade, or the Engine.IO open packet type ("0") when accepted."""
    uri = f"ws://{live_site.host}:{live_site.port}/socket.io/?EIO=4&transport=websocket"
    try:
        async with ws_connect(uri, origin=origin, additional_headers=headers or {}, open_timeout=10) as ws:
            packet = await asyncio.wait_for(ws.recv(), 10)
            assert packet[0] == "0" and "sid" in json.loads(packet[1:])
            return "0"
    except websockets.exceptions.InvalidStatus as refused:
        return refused.response.status_code


def assert_refused(status_body: tuple[int, str], origin: str) -> None:
    status, body = status_body
    assert status == 400, status_body
    assert f"{origin} is not an accepted origin" in body, body


def assert_accepted(status_body: tuple[int, str]) -> None:
    status, body = status_body
    assert status == 200, status_body
    assert body.startswith("0{") and "sid" in json.loads(body[1:]), body


@pytest.mark.django_db(transaction=True)
async def test_live_handshake_accepts_the_own_origin_and_refuses_others(live_site, settings):
    settings.SOCKETIO_ALLOWED_ORIGINS = []
    own = live_site.url
    assert_accepted(await asyncio.to_thread(polling_handshake, own, {"Origin": own}))
    assert await websocket_handshake(live_site, own) == "0"
    # No Origin at all (not a browser): accepted.
    assert_accepted(await asyncio.to_thread(polling_handshake, own, {}))
    other_port = f"http://{live_site.host}:{live_site.port + 1}"
    other_scheme = f"https://{live_site.host}:{live_site.port}"
    for origin in [other_port, other_scheme, "http://evil.example"]:
        assert_refused(await asyncio.to_thread(polling_handshake, own, {"Origin": origin}), origin)
        assert await websocket_handshake(live_site, origin) == 403, origin


@pytest.mark.django_db(transaction=True)
async def test_live_handshake_refuses_a_host_outside_allowed_hosts(live_site, settings):
    settings.SOCKETIO_ALLOWED_ORIGINS = []
    rebound = f"rebound.example:{live_site.port}"
    origin = f"http://{rebound}"
    assert_refused(await asyncio.to_thread(polling_handshake, live_site.url, {"Origin": origin, "Host": rebound}),
                   origin)
    # The same request with an allowed Host is accepted: the Host is what was refused.
    allowed = f"localhost:{live_site.port}"
    assert_accepted(await asyncio.to_thread(
        polling_handshake, live_site.url, {"Origin": f"http://{allowed}", "Host": allowed}))


@pytest.fixture
def exposed_site(transactional_db, settings):
    """A live server as if exposed directly, with uvicorn's own proxy-header handling off.

    uvicorn (--proxy-headers, on by default) already believes X-Forwarded-Proto from
    FORWARDED_ALLOW_IPS, 127.0.0.1 unless set, and rewrites the connection's scheme;
    the test client connects from 127.0.0.1, so without this it would count as that
    trusted proxy and the check below would not be about Django's setting at all.
    """
    from tests.conftest import LiveServer, _ThreadedUvicorn, free_port
    from votemap_site.asgi import build_application

    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    app = build_application()
    port = free_port()
    runner = _ThreadedUvicorn(app, port)
    runner.server.config.proxy_headers = False
    runner.start()
    try:
        yield LiveServer(host="127.0.0.1", port=port, app=app)
    finally:
        runner.stop()


async def test_live_handshake_behind_a_tls_proxy(exposed_site, settings):
    live_site = exposed_site
    settings.SOCKETIO_ALLOWED_ORIGINS = []
    https_origin = f"https://{live_site.host}:{live_site.port}"
    forwarded = {"Origin": https_origin, "X-Forwarded-Proto": "https"}
    # Not behind a proxy: a client's X-Forwarded-Proto is not believed.
    settings.SECURE_PROXY_SSL_HEADER = None
    assert_refused(await asyncio.to_thread(polling_handshake, live_site.url, forwarded), https_origin)
    assert await websocket_handshake(live_site, https_origin, {"X-Forwarded-Proto": "https"}) == 403
    # Behind the TLS proxy (DJANGO_BEHIND_TLS_PROXY): the https origin is the site's own.
    settings.SECURE_PROXY_SSL_HEADER = PROXY
    assert_accepted(await asyncio.to_thread(polling_handshake, live_site.url, forwarded))
    assert await websocket_handshake(live_site, https_origin, {"X-Forwarded-Proto": "https"}) == "0"
    # ... and the plain http origin no longer is.
    assert_refused(await asyncio.to_thread(polling_handshake, live_site.url,
                                           {"Origin": live_site.url, "X-Forwarded-Proto": "https"}), live_site.url)
