"""The site with python-socketio's stock client manager (SOCKETIO_BROADCAST_PATH=stock),
to measure what votemap_site/realtime/broadcast.py is worth in the whole system.

    uvicorn bench.dashboard.stock_manager_asgi:application ...

Identical to `votemap_site.asgi:application` except for the broadcast path:
python-socketio's `AsyncManager` (a task per recipient) and no direct acks.
The same as setting SOCKETIO_BROADCAST_PATH=stock; kept as a module so that the
benchmark's `site-stock` kind names one application for every checkout.
"""

import os

os.environ["SOCKETIO_BROADCAST_PATH"] = "stock"

from votemap_site.asgi import application  # noqa: E402,F401
