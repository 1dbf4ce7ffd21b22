"""An arena's checkpoint: what a new owner needs to go on where the last one was.

Pure (no I/O, no clock). The owner of an arena (grid_game/cluster.py) writes
one to the lease store about once a second; the process that takes the arena
over reads it back. It holds the board (size, coins), every seated player
(public id, symbol, name, position, score, whether the seat is anonymous) and
`tick_reserved`: the owner never broadcasts a `state` whose tick is above the
reservation of a checkpoint it stored, so the next owner, starting above it,
keeps `tick` strictly increasing for every client whatever the hosts' clocks
say. Never session keys or socket ids: a seat is matched again by its public
player id (an HMAC of the session).

`encode` refuses anything over MAX_BYTES (the rules bound an arena to 630
players with names of 16 characters, under 128 KiB); `decode` accepts only
what `encode` can produce and raises `CheckpointError` for anything else, so
a damaged or foreign blob starts a fresh board instead of a broken one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .rules import MAX_NAME, GameState, Player

VERSION = 1
MAX_BYTES = 128 * 1024
MAX_INT = 2**53


class CheckpointError(ValueError):
    """Not a checkpoint this version can restore."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    arena: str
    owner: str
    tick_reserved: int
    state: GameState
    # The arena's database id: an arena deleted and made again with the same
    # slug starts with a fresh board (its tick still continues above this one).
    arena_id: int = 0
    # Public ids of the players whose seat belongs to a connection without a session.
    anonymous: frozenset[str] = frozenset()
    # Written by an owner that stopped on purpose (no takeover after a crash).
    released: bool = False


def encode(checkpoint: Checkpoint) -> bytes:
    state = checkpoint.state
    body = {
        "v": VERSION,
        "arena": checkpoint.arena,
        "id": checkpoint.arena_id,
        "owner": checkpoint.owner,
        "tick": checkpoint.tick_reserved,
        "released": checkpoint.released,
        "board": [state.width, state.height, state.coin_count],
        "coins": [[x, y] for x, y in state.coins],
        "players": [[p.id, p.symbol, p.name, p.x, p.y, p.score, p.id in checkpoint.anonymous]
                    for p in state.players],
    }
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    if len(data) > MAX_BYTES:
        raise CheckpointError(f"checkpoint of {len(data)} bytes is over {MAX_BYTES}")
    return data


def _int(value: Any, low: int = 0, high: int = MAX_INT) -> int:
    if type(value) is not int or not low <= value <= high:
        raise CheckpointError(f"bad number {value!r}")
    return value


def _str(value: Any, longest: int) -> str:
    if not isinstance(value, str) or len(value) > longest:
        raise CheckpointError("bad text")
    return value


def decode(data: bytes) -> Checkpoint:
    if len(data) > MAX_BYTES:
        raise CheckpointError("too large")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError("not JSON") from exc
    if not isinstance(body, dict) or body.get("v") != VERSION:
        raise CheckpointError("unknown version")
    try:
        width, height, coin_count = body["board"]
        width, height, coin_count = _int(width, 1, 10_000), _int(height, 1, 10_000), _int(coin_count)
        coins = tuple((_int(x, 0, width - 1), _int(y, 0, height - 1)) for x, y in body["coins"])
        players = []
        anonymous = set()
        for pid, symbol, name, x, y, score, anon in body["players"]:
            player = Player(id=_str(pid, 64), symbol=_str(symbol, 2), name=_str(name, MAX_NAME),
                            x=_int(x, 0, width - 1), y=_int(y, 0, height - 1), score=_int(score))
            if type(anon) is not bool:
                raise CheckpointError("bad flag")
            if anon:
                anonymous.add(player.id)
            players.append(player)
        released = body["released"]
        if type(released) is not bool:
            raise CheckpointError("bad flag")
        checkpoint = Checkpoint(
            arena=_str(body["arena"], 64), owner=_str(body["owner"], 200), tick_reserved=_int(body["tick"]),
            state=GameState(width=width, height=height, coin_count=coin_count, players=tuple(players),
                            coins=coins),
            anonymous=frozenset(anonymous), released=released, arena_id=_int(body["id"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"malformed: {type(exc).__name__}") from exc
    _check(checkpoint.state)
    return checkpoint


def _check(state: GameState) -> None:
    """The rules' invariants (grid_game/rules.py) on a restored board."""
    ids = [p.id for p in state.players]
    symbols = [p.symbol for p in state.players]
    if len(set(ids)) != len(ids) or len(set(symbols)) != len(symbols):
        raise CheckpointError("duplicate player")
    if len(state.coins) != state.coin_count or len(set(state.coins)) != len(state.coins):
        raise CheckpointError("bad coins")
    if state.coin_count >= state.cells or len(state.players) > state.capacity:
        raise CheckpointError("over capacity")
    if {(p.x, p.y) for p in state.players} & set(state.coins):
        raise CheckpointError("a coin under a player")
