"""The Origin allow-list for Socket.IO requests, on every transport."""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host


def origin_allowed(origin: str | None, environ: dict[str, Any]) -> bool:
    """Engine.IO calls this for every request that carries an Origin header.

    With SOCKETIO_ALLOWED_ORIGINS set, only those origins pass. Without it, only
    the site's own origin passes: the Origin must equal the request's scheme and
    Host, and that Host must be in ALLOWED_HOSTS.
    """
    if origin is None:
        return True  # not a browser; the protocol accepts it
    configured = settings.SOCKETIO_ALLOWED_ORIGINS
    if configured:
        return origin in configured
    host = environ.get("HTTP_HOST", "")
    scheme = environ.get("wsgi.url_scheme", "http")
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and environ.get("HTTP_X_FORWARDED_PROTO"):
        scheme = environ["HTTP_X_FORWARDED_PROTO"].split(",")[0].strip()
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" == origin and origin == f"{scheme}://{host}"
