"""The game's names for its Socket.IO rooms and presence keys: built here only."""


def arena_room(slug: str) -> str:
    """The Socket.IO room of an arena's players and spectators (on every process they are connected to)."""
    return "arena:" + slug


def presence_key(slug: str) -> str:
    """The presence key counting an arena's connected players (all workers)."""
    return "/grid-game:" + slug
