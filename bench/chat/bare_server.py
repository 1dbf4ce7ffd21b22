"""A bare python-socketio room broadcast: the baseline for bench/chat.

The same events and payload shapes as the site's `/chat` (`join` enters a
room; `send_message` broadcasts a `message` to the room and acks it) with
nothing else: no Django, no validation, no rate limits, no database, no
trending words, and python-socketio's stock AsyncManager (one task per
recipient). Run with uvicorn:

    uvicorn bench.chat.bare_server:app --port 8766 --ws websockets-sansio

It uses the site's garbage-collector settings (see below). With BARE_MANAGER=fast it uses the site's task-free client manager
(votemap_site/realtime/broadcast.py) instead, which isolates what Django, the
database and the trending words cost on top of the broadcast itself.
"""

import gc
import itertools
import os
import time
from datetime import UTC, datetime

import socketio

if os.environ.get("BARE_MANAGER") == "fast":
    from votemap_site.realtime.broadcast import FastAsyncManager

    manager = FastAsyncManager()
else:
    manager = socketio.AsyncManager()
sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, cors_allowed_origins="*",
                           logger=False, engineio_logger=False)
ids = itertools.count(1)


class ChatNamespace(socketio.AsyncNamespace):
    async def on_join(self, sid, data):
        room = data["room"]
        await self.enter_room(sid, room)
        return {"ok": True, "data": {"room": {"slug": room}, "messages": [], "members": 0}}

    async def on_send_message(self, sid, data):
        now = datetime.fromtimestamp(time.time(), UTC)
        message = {
            "id": next(ids), "room": data["room"], "author": "anon", "color": "#0b57d0",
            "text": data["text"], "created_at": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        await self.emit("message", message, room=data["room"])
        return {"ok": True, "data": {"message": message}}


# The same garbage-collector settings as the site's server (votemap_site/realtime/server.py),
# so the comparison is about the request and broadcast work, not GC pauses.
gc.collect()
gc.freeze()
gc.set_threshold(5_000, 10, 1_000)

sio.register_namespace(ChatNamespace("/chat"))
app = socketio.ASGIApp(sio)
