"""ASGI entry point: `python -m votemap_site.serve` (uvicorn with the site's flags; plain
`uvicorn votemap_site.asgi:application` works too, without the WebSocket message limit).

Django's ASGI app is built FIRST (it sets up the app registry), then the
realtime server is imported (its namespaces import models), then both are
composed: Socket.IO answers /socket.io/, Django everything else. The lifespan
start-up and shutdown run the realtime server's background tasks.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "votemap_site.settings")
django_app = get_asgi_application()

import socketio  # noqa: E402

from votemap_site import metrics  # noqa: E402
from votemap_site.realtime.server import build_server  # noqa: E402


def build_application() -> socketio.ASGIApp:
    """A new realtime server around the Django app (uvicorn --factory, tests)."""
    from django.conf import settings

    realtime = build_server()
    inner = django_app
    # Extra Socket.IO paths (the same server) for namespaces that a proxy
    # routes to a dedicated worker; the namespace refuses other paths.
    for path in sorted(set(settings.SOCKETIO_NAMESPACE_PATHS.values())):
        inner = socketio.ASGIApp(realtime.sio, other_asgi_app=inner, socketio_path=path)

    async def shutdown() -> None:
        try:
            await realtime.shutdown()
        finally:
            metrics.process_stopping()

    return socketio.ASGIApp(
        realtime.sio,
        other_asgi_app=inner,
        on_startup=realtime.startup,
        on_shutdown=shutdown,
    )


application = build_application()
