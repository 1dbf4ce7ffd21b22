"""The Origin allow-list for Socket.IO requests, on every transport."""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host


def request_scheme(environ: dict[str, Any]) -> str:
    """`http` or `https`, decided as Django decides `request.scheme`.

    Behind a TLS proxy (SECURE_PROXY_SSL_HEADER set) the proxy's header says it;
    otherwise the connection's own scheme in the ASGI scope does. Engine.IO's
    `wsgi.url_scheme` is not used: it copies X-Forwarded-Proto from whatever
    client sent it, trusted proxy or not.
    """
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        header, secure_value = proxy_header
        value = environ.get(header)
        if value is not None:
            return "https" if value.split(",", 1)[0].strip() == secure_value else "http"
    scope = environ.get("asgi.scope") or {}
    return "https" if scope.get("scheme") in ("https", "wss") else "http"


def origin_allowed(origin: str | None, environ: dict[str, Any]) -> bool:
    """Engine.IO calls this for every request that carries an Origin header.

    With SOCKETIO_ALLOWED_ORIGINS set, only those origins pass. Without it, only
    the site's own origin passes: the Origin must equal the request's scheme and
    Host, and that Host must be in ALLOWED_HOSTS (a page served from a rebound
    DNS name sends a matching Origin and Host, but not an allowed Host).
    """
    if origin is None:
        return True  # not a browser; the protocol accepts it
    configured = settings.SOCKETIO_ALLOWED_ORIGINS
    if configured:
        return origin in configured
    host = environ.get("HTTP_HOST", "")
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" == origin and origin == f"{request_scheme(environ)}://{host}"
