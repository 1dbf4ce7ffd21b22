"""A bare python-socketio room broadcast: the baseline for bench/chat.

The same events and payload shapes as the site's `/chat` (`join` enters a
room; `send_message` broadcasts a `message` to the room and acks it) with
nothing else: no Django, no validation, no rate limits, no database, no
trending words, and python-socketio's stock AsyncManager (one task per
recipient). Run with uvicorn:

    uvicorn bench.chat.bare_server:app --port 8766 --ws websockets-sansio
"""

import itertools
import time
from datetime import UTC, datetime

import socketio

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", logger=False, engineio_logger=False)
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


sio.register_namespace(ChatNamespace("/chat"))
app = socketio.ASGIApp(sio)
