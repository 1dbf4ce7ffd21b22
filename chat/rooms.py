"""The chat's names for its Socket.IO rooms and presence keys: built here only."""

# Socket.IO room of the connections that asked for the room list (live counts).
WATCH_ROOMS = "rooms:watch"


def socket_room(slug: str) -> str:
    """The Socket.IO room of a chat room's members (on every worker)."""
    return "room:" + slug


def presence_key(slug: str) -> str:
    """The presence key counting a chat room's members over all workers."""
    return "/chat:" + slug
