"""ASGI entry point: `uvicorn votemap_site.asgi:application`.

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

from votemap_site.realtime.server import build_server  # noqa: E402


def build_application() -> socketio.ASGIApp:
    """A new realtime server around the Django app (uvicorn --factory, tests)."""
    realtime = build_server()
    return socketio.ASGIApp(
        realtime.sio,
        other_asgi_app=django_app,
        on_startup=realtime.startup,
        on_shutdown=realtime.shutdown,
    )


application = build_application()
