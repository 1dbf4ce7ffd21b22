"""The grid game's rules: pure, immutable, deterministic given an injected RNG.

No Django, no I/O, no clock. A `GameState` is never changed in place:
`join`, `move` and `leave` return a new state or raise `RuleError` (and then
nothing has changed). Randomness (start cells, coin cells) comes from the
`rng` argument, anything with `randrange(n)` (a `random.Random`), so tests and
benchmarks can replay a game exactly.

Invariants (checked by the stateful Hypothesis tests):
- every player is inside the board: 0 <= x < width, 0 <= y < height;
- symbols are unique among the players of a game;
- each player's score is the number of coins that player collected;
- the number of coins on the board is constant (`coin_count`);
- coins are on distinct cells and, after every operation, no coin shares a
  cell with any player (a player who steps on a coin collects it at once and
  the coin reappears on a cell with no player and no coin).

Capacity: a game accepts a player only while players + coins <= cells, which
guarantees a free start cell and a free cell for every respawned coin.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

DIRECTIONS: dict[str, tuple[int, int]] = {
    "up": (0, -1),
    "down": (0, 1),
    "left": (-1, 0),
    "right": (1, 0),
}

# Single consonants first (easy to tell apart on a small grid), then
# two-character symbols: consonant + digit, then consonant pairs.
CONSONANTS = "BCDFGHJKLMNPQRSTVWXYZ"
MAX_NAME = 16


def _symbols() -> Iterator[str]:
    yield from CONSONANTS
    for first in CONSONANTS:
        for digit in "23456789":
            yield first + digit
    for first in CONSONANTS:
        for second in CONSONANTS:
            yield first + second


SYMBOLS: tuple[str, ...] = tuple(_symbols())


class RandomSource(Protocol):
    def randrange(self, stop: int, /) -> int: ...


class RuleError(Exception):
    """A request the rules refuse. `code` is one of FULL, UNKNOWN_PLAYER, DUPLICATE, INVALID."""

    FULL = "full"
    UNKNOWN_PLAYER = "unknown_player"
    DUPLICATE = "duplicate"
    INVALID = "invalid"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Player:
    id: str
    symbol: str
    name: str
    x: int
    y: int
    score: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "symbol": self.symbol, "name": self.name,
                "x": self.x, "y": self.y, "score": self.score}


@dataclass(frozen=True, slots=True)
class GameState:
    width: int
    height: int
    coin_count: int
    # In joining order; ids unique.
    players: tuple[Player, ...] = ()
    # Distinct cells, never under a player.
    coins: tuple[tuple[int, int], ...] = ()
    # Player id -> index in `players`, trusted only for the very tuple it was
    # built for (identity): a crowded arena looks a player up on every move,
    # and a scan of 512 players was a tenth of the server's CPU. `move` keeps
    # the order of the players, so it hands the same map on to its new tuple;
    # any other change (join, leave, a checkpoint) rebuilds it on first use.
    _ids: tuple[tuple[Player, ...], dict[str, int]] | None = field(
        default=None, compare=False, repr=False)

    @property
    def cells(self) -> int:
        return self.width * self.height

    @property
    def capacity(self) -> int:
        """The most players this board can hold with its coins."""
        return self.cells - self.coin_count

    def ids(self) -> dict[str, int]:
        """Player id -> index in `players` (do not modify)."""
        cached = self._ids
        if cached is not None and cached[0] is self.players:
            return cached[1]
        ids = {p.id: i for i, p in enumerate(self.players)}
        object.__setattr__(self, "_ids", (self.players, ids))  # a cache, not state
        return ids

    def player(self, player_id: str) -> Player:
        return self.players[_index(self, player_id)]

    def has_player(self, player_id: str) -> bool:
        return player_id in self.ids()

    def inside(self, x: int, y: int) -> bool:
        return 0 <= x < self.width and 0 <= y < self.height


def new_game(*, width: int, height: int, coins: int, rng: RandomSource) -> GameState:
    """An empty board with `coins` coins on distinct random cells."""
    if width < 1 or height < 1:
        raise RuleError(RuleError.INVALID, "the board needs at least one column and one row")
    if coins < 0 or coins >= width * height:
        raise RuleError(RuleError.INVALID, "the coins must leave at least one free cell")
    state = GameState(width=width, height=height, coin_count=coins)
    placed: list[tuple[int, int]] = []
    for _ in range(coins):
        placed.append(_free_cell(state, rng, taken=set(placed)))
    return replace(state, coins=tuple(placed))


def next_symbol(taken: Iterable[str], preferred: str | None = None) -> str:
    """The preferred symbol if it is a free consonant, else the first free symbol."""
    used = set(taken)
    if preferred:
        letter = preferred[:1].upper()
        if letter in CONSONANTS and letter not in used:
            return letter
    for symbol in SYMBOLS:
        if symbol not in used:
            return symbol
    raise RuleError(RuleError.FULL, "no symbol left in this game")


def clean_name(name: str | None, fallback: str) -> str:
    """Collapse whitespace, drop control characters, cut to MAX_NAME characters."""
    if name is None:
        return fallback
    text = "".join(ch for ch in name if ch.isprintable())
    text = " ".join(text.split())[:MAX_NAME]
    return text or fallback


def join(state: GameState, *, player_id: str, name: str, rng: RandomSource) -> GameState:
    """Add a player on a random free cell with the first free symbol."""
    if state.has_player(player_id):
        raise RuleError(RuleError.DUPLICATE, "this player is already in the game")
    if len(state.players) + 1 > state.capacity or len(state.players) + 1 > len(SYMBOLS):
        raise RuleError(RuleError.FULL, "the arena is full")
    name = clean_name(name, "Player")
    symbol = next_symbol((p.symbol for p in state.players), preferred=name)
    x, y = _free_cell(state, rng)
    player = Player(id=player_id, symbol=symbol, name=name, x=x, y=y, score=0)
    return replace(state, players=state.players + (player,))


def move(state: GameState, *, player_id: str, direction: str, rng: RandomSource) -> GameState:
    """Move one cell; a wall leaves the position unchanged. A coin on the
    target cell is collected (score + 1) and reappears on a free cell."""
    delta = DIRECTIONS.get(direction)
    if delta is None:
        raise RuleError(RuleError.INVALID, f"unknown direction {direction[:10]!r}")
    index = _index(state, player_id)
    current = state.players[index]
    x, y = current.x + delta[0], current.y + delta[1]
    width, height = state.width, state.height
    if not (0 <= x < width and 0 <= y < height):
        return state
    coins = state.coins
    collected = (x, y) in coins
    # The constructors rather than dataclasses.replace, which looks the fields
    # up on every call: this runs for every move of every player.
    moved = Player(current.id, current.symbol, current.name, x, y,
                   current.score + 1 if collected else current.score)
    players = state.players[:index] + (moved,) + state.players[index + 1:]
    # Same ids in the same order: the id map carries over to the new tuple.
    ids = (players, state.ids())
    if collected:
        rest = tuple(c for c in coins if c != (x, y))
        spawned = _free_cell(GameState(width, height, state.coin_count, players, rest, ids), rng)
        coins = rest + (spawned,)
    return GameState(width, height, state.coin_count, players, coins, ids)


def leave(state: GameState, *, player_id: str) -> GameState:
    index = _index(state, player_id)
    return replace(state, players=state.players[:index] + state.players[index + 1:])


def rename(state: GameState, *, player_id: str, name: str) -> GameState:
    index = _index(state, player_id)
    current = state.players[index]
    updated = replace(current, name=clean_name(name, current.name))
    return replace(state, players=state.players[:index] + (updated,) + state.players[index + 1:])


def _index(state: GameState, player_id: str) -> int:
    index = state.ids().get(player_id)
    if index is not None:
        return index
    raise RuleError(RuleError.UNKNOWN_PLAYER, "no such player in this game")


def _free_cell(state: GameState, rng: RandomSource, taken: set[tuple[int, int]] | None = None) -> tuple[int, int]:
    """A uniformly random cell with no player and no coin (and not in `taken`)."""
    blocked = {(p.x, p.y) for p in state.players}
    blocked.update(state.coins)
    if taken:
        blocked |= taken
    cells = state.cells
    if len(blocked) >= cells:
        raise RuleError(RuleError.FULL, "no free cell on the board")
    if len(blocked) * 2 <= cells:
        # Mostly empty board: rejection sampling is uniform and cheap.
        while True:
            n = rng.randrange(cells)
            cell = (n % state.width, n // state.width)
            if cell not in blocked:
                return cell
    free = [(n % state.width, n // state.width) for n in range(cells)
            if (n % state.width, n // state.width) not in blocked]
    return free[rng.randrange(len(free))]
