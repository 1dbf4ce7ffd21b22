"""The site with python-socketio's stock server and client manager, to measure
what votemap_site/realtime/broadcast.py is worth in the whole system.

    uvicorn bench.dashboard.stock_manager_asgi:application ...

Identical to `votemap_site.asgi:application` except that it is built with
`socketio.AsyncServer` and `socketio.AsyncManager()` instead of
`FastAsyncServer` (direct acks, reused JSON decoder) and the task-free manager.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "votemap_site.settings")
django.setup()

import socketio  # noqa: E402

import votemap_site.realtime.server as realtime_server  # noqa: E402

realtime_server.build_client_manager = lambda: socketio.AsyncManager()
realtime_server.FastAsyncServer = socketio.AsyncServer

from votemap_site.asgi import application  # noqa: E402,F401
