"""The site with python-socketio's stock client manager, to measure the broadcast path alone.

    uvicorn bench.dashboard.stock_manager_asgi:application ...

Identical to `votemap_site.asgi:application` except that the server is built
with `socketio.AsyncManager()` instead of the task-free manager.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "votemap_site.settings")
django.setup()

import socketio  # noqa: E402

import votemap_site.realtime.server as realtime_server  # noqa: E402

realtime_server.build_client_manager = lambda: socketio.AsyncManager()

from votemap_site.asgi import application  # noqa: E402,F401
