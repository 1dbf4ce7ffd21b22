"""Exact examples of the grid game's rules at their boundaries, for the mutants `make mutate`
found alive (the stateful properties in test_rules.py rarely reach a wall, a full board or
the switch between the two ways of picking a free cell)."""

import pytest

from grid_game import rules
from grid_game.rules import GameState, Player, RuleError


class Script:
    """An RNG that answers `randrange` from a list, and records every `stop` it was asked for."""

    def __init__(self, *values: int) -> None:
        self.values = list(values)
        self.stops: list[int] = []

    def randrange(self, stop: int, /) -> int:
        self.stops.append(stop)
        value = self.values.pop(0)
        assert 0 <= value < stop
        return value


def board(width, height, players=(), coins=()):
    return GameState(width=width, height=height, coin_count=len(coins),
                     players=tuple(Player(id=f"p{i}", symbol=rules.SYMBOLS[i], name=f"P{i}", x=x, y=y)
                                   for i, (x, y) in enumerate(players)),
                     coins=tuple(coins))


def code_of(call) -> str:
    with pytest.raises(RuleError) as exc:
        call()
    return exc.value.code


def test_board_size_and_coin_limits():
    for width, height in [(0, 3), (3, 0), (0, 0)]:
        with pytest.raises(RuleError, match="at least one column and one row"):
            rules.new_game(width=width, height=height, coins=0, rng=Script())
    with pytest.raises(RuleError, match="at least one free cell"):
        rules.new_game(width=2, height=2, coins=4, rng=Script())
    assert code_of(lambda: rules.new_game(width=0, height=3, coins=0, rng=Script())) == RuleError.INVALID
    assert code_of(lambda: rules.new_game(width=3, height=0, coins=0, rng=Script())) == RuleError.INVALID
    assert code_of(lambda: rules.new_game(width=2, height=2, coins=4, rng=Script())) == RuleError.INVALID
    assert code_of(lambda: rules.new_game(width=2, height=2, coins=-1, rng=Script())) == RuleError.INVALID
    tiny = rules.new_game(width=1, height=1, coins=0, rng=Script())
    assert (tiny.cells, tiny.capacity, tiny.coins, tiny.players) == (1, 1, (), ())
    nearly_full = rules.new_game(width=2, height=2, coins=3, rng=Script(0, 1, 2))
    assert sorted(nearly_full.coins) == [(0, 0), (0, 1), (1, 0)]  # distinct cells
    assert (nearly_full.cells, nearly_full.capacity) == (4, 1)


def test_cells_are_numbered_row_by_row():
    state = board(3, 2)
    assert rules._free_cell(state, Script(5)) == (2, 1)
    assert rules._free_cell(state, Script(1)) == (1, 0)
    assert rules._free_cell(state, Script(3)) == (0, 1)


def test_rejection_sampling_up_to_half_full_then_a_list_of_free_cells():
    half = board(2, 2, players=[(0, 0)], coins=[(1, 0)])  # 2 of 4 blocked: still rejection sampling
    rng = Script(0, 1, 3)
    assert rules._free_cell(half, rng) == (1, 1)
    assert rng.stops == [4, 4, 4]
    dense = board(2, 2, players=[(0, 0), (1, 1)], coins=[(1, 0)])  # 3 of 4 blocked: pick among the free
    rng = Script(0)
    assert rules._free_cell(dense, rng) == (0, 1)
    assert rng.stops == [1]
    rng = Script(0)
    assert rules._free_cell(board(3, 1, players=[(0, 0)], coins=[(2, 0)]), rng) == (1, 0)
    assert rng.stops == [1]
    rng = Script(0)  # `taken` blocks like a coin (new_game places coins one after the other)
    assert rules._free_cell(board(3, 1), rng, taken={(0, 0), (2, 0)}) == (1, 0)
    assert rng.stops == [1]


def test_no_free_cell_is_full():
    assert code_of(lambda: rules._free_cell(board(2, 1, players=[(0, 0)], coins=[(1, 0)]), Script())) == RuleError.FULL
    assert code_of(lambda: rules._free_cell(board(2, 1, players=[(0, 0)]), Script(), taken={(1, 0)})) == RuleError.FULL


def test_inside_is_the_board_and_nothing_more():
    state = board(3, 2)
    assert all(state.inside(x, y) for x in range(3) for y in range(2))
    assert not any(state.inside(x, y) for x, y in [(-1, 0), (0, -1), (3, 0), (0, 2), (3, 2), (4, 0), (0, 3)])


@pytest.mark.parametrize("start,direction", [((0, 0), "up"), ((0, 0), "left"), ((2, 1), "down"), ((2, 1), "right")])
def test_a_wall_leaves_the_state_as_it_is(start, direction):
    state = board(3, 2, players=[start])
    assert rules.move(state, player_id="p0", direction=direction, rng=Script()) is state


@pytest.mark.parametrize("direction,target", [("up", (1, 0)), ("down", (1, 2)), ("left", (0, 1)), ("right", (2, 1))])
def test_each_direction_moves_one_cell(direction, target):
    state = board(3, 3, players=[(1, 1), (0, 0)])
    after = rules.move(state, player_id="p0", direction=direction, rng=Script())
    assert (after.players[0].x, after.players[0].y) == target and after.players[0].score == 0
    assert after.players[1] == state.players[1] and after.coins == state.coins


def test_a_coin_is_collected_once_and_reappears_on_a_free_cell():
    state = board(3, 1, players=[(0, 0), (2, 0)], coins=[(1, 0)])
    # Stepping on (1, 0): the coin respawns on the only cell left without a player, (0, 0) now.
    after = rules.move(state, player_id="p0", direction="right", rng=Script(0))
    assert [(p.x, p.y, p.score) for p in after.players] == [(1, 0, 1), (2, 0, 0)]
    assert after.coins == ((0, 0),) and after.coin_count == 1
    back = rules.move(after, player_id="p0", direction="left", rng=Script(0))
    assert back.players[0].score == 2 and back.coins == ((1, 0),)
    quiet = rules.move(board(3, 1, players=[(0, 0)], coins=[(2, 0)]), player_id="p0", direction="right", rng=Script())
    assert quiet.players[0].score == 0 and quiet.coins == ((2, 0),)


def test_unknown_direction_and_player():
    state = board(2, 2, players=[(0, 0)])
    with pytest.raises(RuleError) as exc:
        rules.move(state, player_id="p0", direction="n" * 12 + "xyz", rng=Script())
    assert exc.value.message == f"unknown direction {'n' * 10!r}"  # a client's text is cut short
    assert code_of(lambda: rules.move(state, player_id="p0", direction="north", rng=Script())) == RuleError.INVALID
    assert code_of(lambda: rules.move(state, player_id="nobody", direction="up", rng=Script())) == RuleError.UNKNOWN_PLAYER
    assert code_of(lambda: rules.leave(state, player_id="nobody")) == RuleError.UNKNOWN_PLAYER
    assert code_of(lambda: state.player("nobody")) == RuleError.UNKNOWN_PLAYER
    assert state.player("p0") is state.players[0] and state.has_player("p0") and not state.has_player("p1")


def test_join_until_the_board_is_full():
    state = rules.new_game(width=3, height=1, coins=1, rng=Script(2))  # coin at (2, 0); capacity 2
    state = rules.join(state, player_id="a", name="bea", rng=Script(0))
    assert state.players[0] == Player(id="a", symbol="B", name="bea", x=0, y=0, score=0)
    assert code_of(lambda: rules.join(state, player_id="a", name="again", rng=Script(1))) == RuleError.DUPLICATE
    state = rules.join(state, player_id="b", name="Bob", rng=Script(0))
    assert (state.players[1].symbol, state.players[1].x) == ("C", 1)  # B taken: the first free symbol
    assert code_of(lambda: rules.join(state, player_id="c", name="x", rng=Script(0))) == RuleError.FULL


def test_leave_and_rename_touch_only_that_player():
    state = board(4, 1, players=[(0, 0), (1, 0), (2, 0)])
    left = rules.leave(state, player_id="p1")
    assert [p.id for p in left.players] == ["p0", "p2"]
    renamed = rules.rename(state, player_id="p1", name="  Nueva   Ana ")
    assert [p.name for p in renamed.players] == ["P0", "Nueva Ana", "P2"]
    assert rules.rename(state, player_id="p1", name="\x00 ").players[1].name == "P1"  # nothing left: kept


def test_symbols():
    assert len(rules.SYMBOLS) == len(set(rules.SYMBOLS)) == 21 + 21 * 8 + 21 * 21
    assert rules.SYMBOLS[:2] == ("B", "C") and rules.SYMBOLS[21] == "B2" and rules.SYMBOLS[-1] == "ZZ"
    assert rules.next_symbol([], preferred="zoe") == "Z"
    assert rules.next_symbol([], preferred="Ana") == "B"  # a vowel is not a symbol
    assert rules.next_symbol(["Z"], preferred="zoe") == "B"
    assert rules.next_symbol(["B"], preferred="") == "C"
    assert rules.next_symbol(["B", "C"], preferred=None) == "D"
    assert code_of(lambda: rules.next_symbol(rules.SYMBOLS)) == RuleError.FULL


def test_clean_name():
    assert rules.clean_name(None, "Player") == "Player"
    assert rules.clean_name("", "Player") == "Player"
    assert rules.clean_name(" \t ", "Player") == "Player"
    assert rules.clean_name("  Ana \n  María ", "Player") == "Ana María"
    assert rules.clean_name("a\x00b\u200bc", "Player") == "abc"
    assert rules.clean_name("x" * 17, "Player") == "x" * 16
    assert rules.clean_name("x" * 16, "Player") == "x" * 16


def test_player_as_dict():
    assert Player(id="i", symbol="B", name="n", x=1, y=2, score=3).as_dict() == {
        "id": "i", "symbol": "B", "name": "n", "x": 1, "y": 2, "score": 3}


def test_the_last_symbol_is_handed_out_and_then_the_game_is_full():
    n = len(rules.SYMBOLS)
    width = 40  # 1,600 cells: the symbols run out before the cells do
    players = tuple(Player(id=f"p{i}", symbol=rules.SYMBOLS[i], name=f"P{i}", x=i % width, y=i // width)
                    for i in range(n - 1))
    state = GameState(width=width, height=width, coin_count=0, players=players)
    state = rules.join(state, player_id="last", name="Quique", rng=Script((n - 1) + 5))
    assert state.players[-1].symbol == rules.SYMBOLS[-1] == "ZZ"
    assert code_of(lambda: rules.join(state, player_id="one-more", name="x", rng=Script(n + 5))) == RuleError.FULL


def test_states_carry_no_per_instance_dict():
    # One Player per player per move: slots keep them small.
    assert not hasattr(Player(id="i", symbol="B", name="n", x=0, y=0), "__dict__")
    assert not hasattr(board(1, 1), "__dict__")
