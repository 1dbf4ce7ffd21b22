"""Checkpoints (grid_game/checkpoint.py): exact round trip of any board the rules
can make, a size bound for the largest arena, and clean refusal of anything else."""

import ast
import json
import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grid_game import checkpoint as checkpoints
from grid_game import rules
from grid_game.checkpoint import Checkpoint, CheckpointError

NAMES = st.text(min_size=1, max_size=rules.MAX_NAME)


def test_checkpoint_module_is_pure():
    tree = ast.parse(open(checkpoints.__file__).read())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert not imported & {"django", "socketio", "time", "random", "asyncio", "redis", "psycopg"}, imported


@st.composite
def games(draw, max_players: int = 40):
    """A state the rules reached: joins, moves and leaves from a seeded game."""
    width, height = draw(st.integers(2, 30)), draw(st.integers(2, 30))
    coins = draw(st.integers(0, min(10, width * height - 2)))
    rng = random.Random(draw(st.integers(0, 2**32)))
    state = rules.new_game(width=width, height=height, coins=coins, rng=rng)
    for i in range(draw(st.integers(0, min(max_players, state.capacity)))):
        state = rules.join(state, player_id=f"p{i:02d}" + "0" * 13, name=draw(NAMES), rng=rng)
    for _ in range(draw(st.integers(0, 30))):
        if not state.players:
            break
        player = state.players[draw(st.integers(0, len(state.players) - 1))]
        direction = draw(st.sampled_from(list(rules.DIRECTIONS)))
        state = rules.move(state, player_id=player.id, direction=direction, rng=rng)
    return state


@given(games(), st.integers(0, 2**53), st.booleans(), st.data())
@settings(max_examples=150, deadline=None)
def test_encode_decode_round_trip(state, tick, released, data):
    anonymous = frozenset(p.id for p in state.players if data.draw(st.booleans()))
    saved = Checkpoint(arena="main", owner="host:12:abcd", tick_reserved=tick, state=state,
                       anonymous=anonymous, released=released, arena_id=data.draw(st.integers(0, 2**31)))
    blob = checkpoints.encode(saved)
    assert len(blob) <= checkpoints.MAX_BYTES
    assert checkpoints.decode(blob) == saved


def test_the_largest_arena_fits_the_bound():
    # Every symbol taken (630 players), longest names of 4-byte characters,
    # huge scores, the most coins the admin allows.
    rng = random.Random(0)
    state = rules.new_game(width=100, height=100, coins=100, rng=rng)
    for i in range(len(rules.SYMBOLS)):
        state = rules.join(state, player_id=f"{i:016x}", name="\U0001f600" * rules.MAX_NAME, rng=rng)
    state = replace(state, players=tuple(replace(p, score=2**53) for p in state.players))
    saved = Checkpoint(arena="a" * 64, owner="h" * 60, tick_reserved=2**53, state=state,
                       anonymous=frozenset(p.id for p in state.players))
    blob = checkpoints.encode(saved)
    assert len(blob) <= checkpoints.MAX_BYTES
    assert checkpoints.decode(blob) == saved


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_arbitrary_bytes_are_refused_cleanly(blob):
    try:
        checkpoints.decode(blob)
    except CheckpointError:
        pass


JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 2**60) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=8)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=8),
                    max_leaves=40)


@given(games(max_players=5), st.data())
@settings(max_examples=200, deadline=None)
def test_damaged_checkpoints_are_refused_or_valid(state, data):
    """Any change to a good checkpoint's JSON either decodes to a board that
    keeps the rules' invariants or is refused with CheckpointError."""
    body = json.loads(checkpoints.encode(Checkpoint(arena="main", owner="o", tick_reserved=1, state=state)))
    key = data.draw(st.sampled_from(sorted(body)))
    body[key] = data.draw(JSON)
    try:
        restored = checkpoints.decode(json.dumps(body).encode())
    except CheckpointError:
        return
    board = restored.state
    assert len({p.id for p in board.players}) == len(board.players)
    assert len({p.symbol for p in board.players}) == len(board.players)
    assert all(board.inside(p.x, p.y) for p in board.players)
    assert len(set(board.coins)) == len(board.coins) == board.coin_count
    assert not {(p.x, p.y) for p in board.players} & set(board.coins)


def test_a_checkpoint_over_the_bound_is_refused():
    state = rules.GameState(width=10, height=10, coin_count=0,
                            players=tuple(rules.Player(id="x" * 60 + str(i), symbol=str(i), name="n",
                                                       x=0, y=0) for i in range(3000)))
    with pytest.raises(CheckpointError):
        checkpoints.encode(Checkpoint(arena="main", owner="o", tick_reserved=1, state=state))
    with pytest.raises(CheckpointError):
        checkpoints.decode(b" " * (checkpoints.MAX_BYTES + 1))


@pytest.mark.parametrize("damage", ["coin under a player", "duplicate symbol", "outside", "too many coins",
                                    "bool as int"])
def test_boards_that_break_the_rules_are_refused(damage):
    rng = random.Random(3)
    state = rules.new_game(width=6, height=4, coins=2, rng=rng)
    for i in range(3):
        state = rules.join(state, player_id=f"p{i}", name=f"N{i}", rng=rng)
    body = json.loads(checkpoints.encode(Checkpoint(arena="main", owner="o", tick_reserved=1, state=state)))
    checkpoints.decode(json.dumps(body).encode())  # the undamaged one is fine
    first = body["players"][0]
    if damage == "coin under a player":
        body["coins"][0] = [first[3], first[4]]
    elif damage == "duplicate symbol":
        body["players"][1][1] = first[1]
    elif damage == "outside":
        first[3] = 6
    elif damage == "too many coins":
        body["coins"].append([5, 3] if [5, 3] not in body["coins"] else [0, 3])
    else:
        first[5] = True
    with pytest.raises(CheckpointError):
        checkpoints.decode(json.dumps(body).encode())
