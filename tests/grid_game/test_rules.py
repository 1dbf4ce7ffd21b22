"""The pure rules: unit tests and a Hypothesis state machine."""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, precondition, rule

from grid_game import rules
from grid_game.rules import GameState, Player, RuleError


def test_rules_module_is_pure():
    import ast

    tree = ast.parse(open(rules.__file__).read())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    # Pure: no framework, no clock, no global randomness (the rng is passed in).
    assert not imported & {"django", "socketio", "engineio", "time", "random", "asyncio", "grid_game"}, imported


def test_new_game_places_distinct_coins():
    state = rules.new_game(width=20, height=10, coins=5, rng=random.Random(1))
    assert len(set(state.coins)) == 5
    assert all(state.inside(x, y) for x, y in state.coins)


def test_new_game_refuses_a_board_without_a_free_cell():
    with pytest.raises(RuleError):
        rules.new_game(width=2, height=1, coins=2, rng=random.Random(1))


def test_symbols_single_consonants_first_then_two_characters():
    assert rules.SYMBOLS[: len(rules.CONSONANTS)] == tuple(rules.CONSONANTS)
    assert all(len(s) == 2 for s in rules.SYMBOLS[len(rules.CONSONANTS):])
    assert len(set(rules.SYMBOLS)) == len(rules.SYMBOLS) >= 600


def test_join_prefers_the_initial_of_the_name_then_the_first_free():
    state = rules.new_game(width=5, height=5, coins=1, rng=random.Random(0))
    state = rules.join(state, player_id="a", name="maria", rng=random.Random(0))
    state = rules.join(state, player_id="b", name="Manuel", rng=random.Random(0))
    state = rules.join(state, player_id="c", name="Eve", rng=random.Random(0))
    assert [p.symbol for p in state.players] == ["M", "B", "C"]


def test_join_twice_is_refused_and_full_arena_is_refused():
    state = rules.new_game(width=2, height=2, coins=1, rng=random.Random(0))
    state = rules.join(state, player_id="a", name="a", rng=random.Random(0))
    with pytest.raises(RuleError) as err:
        rules.join(state, player_id="a", name="a", rng=random.Random(0))
    assert err.value.code == RuleError.DUPLICATE
    state = rules.join(state, player_id="b", name="b", rng=random.Random(0))
    state = rules.join(state, player_id="c", name="c", rng=random.Random(0))
    with pytest.raises(RuleError) as err:
        rules.join(state, player_id="d", name="d", rng=random.Random(0))
    assert err.value.code == RuleError.FULL


def test_wall_leaves_position_unchanged_and_state_identical():
    state = GameState(width=3, height=3, coin_count=0, players=(Player("a", "B", "a", 0, 0),))
    for direction in ("up", "left"):
        assert rules.move(state, player_id="a", direction=direction, rng=random.Random(0)) is state


def test_unknown_direction_and_unknown_player_change_nothing():
    state = GameState(width=3, height=3, coin_count=0, players=(Player("a", "B", "a", 1, 1),))
    with pytest.raises(RuleError) as err:
        rules.move(state, player_id="a", direction="north", rng=random.Random(0))
    assert err.value.code == RuleError.INVALID
    with pytest.raises(RuleError) as err:
        rules.move(state, player_id="zz", direction="up", rng=random.Random(0))
    assert err.value.code == RuleError.UNKNOWN_PLAYER
    assert state.players[0] == Player("a", "B", "a", 1, 1)


def test_stepping_on_a_coin_scores_and_respawns_it_on_a_free_cell():
    state = GameState(width=3, height=1, coin_count=1, players=(Player("a", "B", "a", 0, 0),), coins=((1, 0),))
    after = rules.move(state, player_id="a", direction="right", rng=random.Random(3))
    assert after.players[0].score == 1 and (after.players[0].x, after.players[0].y) == (1, 0)
    assert after.coins in (((0, 0),), ((2, 0),))
    assert state.players[0].score == 0  # the old state is untouched


def test_clean_name():
    assert rules.clean_name("  ana \n maria  ", "x") == "ana maria"
    assert rules.clean_name("\x00\x07", "fallback") == "fallback"
    assert len(rules.clean_name("x" * 100, "f")) == rules.MAX_NAME


@given(st.integers(1, 12), st.integers(1, 12), st.data())
@settings(max_examples=60)
def test_fill_the_board_to_capacity(width, height, data):
    coins = data.draw(st.integers(0, width * height - 1))
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    state = rules.new_game(width=width, height=height, coins=coins, rng=rng)
    for i in range(state.capacity):
        state = rules.join(state, player_id=str(i), name=f"p{i}", rng=rng)
    cells = {(p.x, p.y) for p in state.players}
    assert len(cells) == len(state.players)  # start cells are free cells
    assert not cells & set(state.coins)
    with pytest.raises(RuleError):
        rules.join(state, player_id="extra", name="x", rng=rng)


class GameMachine(RuleBasedStateMachine):
    """Random joins, moves and leaves on random small boards."""

    players = Bundle("players")

    def __init__(self) -> None:
        super().__init__()
        self.state: GameState | None = None
        self.collected: dict[str, int] = {}
        self.counter = 0

    @precondition(lambda self: self.state is None)
    @rule(width=st.integers(1, 8), height=st.integers(1, 8), seed=st.integers(0, 2**32), data=st.data())
    def create(self, width, height, seed, data):
        coins = data.draw(st.integers(0, min(6, width * height - 1)))
        self.rng = random.Random(seed)
        self.state = rules.new_game(width=width, height=height, coins=coins, rng=self.rng)

    @precondition(lambda self: self.state is not None)
    @rule(target=players, name=st.text(max_size=20))
    def join(self, name):
        self.counter += 1
        pid = f"p{self.counter}"
        try:
            self.state = rules.join(self.state, player_id=pid, name=name, rng=self.rng)
        except RuleError as err:
            assert err.code == RuleError.FULL
            assert len(self.state.players) >= self.state.capacity
            return pid  # a player id that never joined
        self.collected[pid] = 0
        return pid

    @precondition(lambda self: self.state is not None)
    @rule(pid=players, direction=st.sampled_from(sorted(rules.DIRECTIONS)))
    def move(self, pid, direction):
        before = self.state
        if pid not in self.collected:
            with pytest.raises(RuleError):
                rules.move(before, player_id=pid, direction=direction, rng=self.rng)
            return
        old = before.player(pid)
        self.state = rules.move(before, player_id=pid, direction=direction, rng=self.rng)
        new = self.state.player(pid)
        dx, dy = rules.DIRECTIONS[direction]
        if before.inside(old.x + dx, old.y + dy):
            assert (new.x, new.y) == (old.x + dx, old.y + dy)
        else:
            assert (new.x, new.y) == (old.x, old.y)
        if (new.x, new.y) in before.coins and (new.x, new.y) != (old.x, old.y):
            self.collected[pid] += 1
        # Nobody else changed.
        others_before = [p for p in before.players if p.id != pid]
        others_after = [p for p in self.state.players if p.id != pid]
        assert others_before == others_after

    @precondition(lambda self: self.state is not None)
    @rule(pid=consumes(players))
    def leave(self, pid):
        if pid not in self.collected:
            return
        self.state = rules.leave(self.state, player_id=pid)
        del self.collected[pid]

    @invariant()
    def positions_inside(self):
        if self.state:
            assert all(self.state.inside(p.x, p.y) for p in self.state.players)

    @invariant()
    def symbols_unique(self):
        if self.state:
            symbols = [p.symbol for p in self.state.players]
            assert len(symbols) == len(set(symbols))
            assert all(1 <= len(s) <= 2 for s in symbols)

    @invariant()
    def scores_equal_coins_collected(self):
        if self.state:
            assert {p.id: p.score for p in self.state.players} == self.collected

    @invariant()
    def coin_count_constant(self):
        if self.state:
            assert len(self.state.coins) == self.state.coin_count
            assert len(set(self.state.coins)) == self.state.coin_count
            assert all(self.state.inside(x, y) for x, y in self.state.coins)

    @invariant()
    def no_coin_under_a_player(self):
        if self.state:
            assert not {(p.x, p.y) for p in self.state.players} & set(self.state.coins)


GameMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestGameMachine = GameMachine.TestCase


def test_player_lookup_stays_right_through_moves_joins_and_leaves():
    # The id -> index map is a cache carried by `move`; it must never outlive
    # a change of the players' order (join, leave).
    rng = random.Random(3)
    state = rules.new_game(width=10, height=10, coins=2, rng=rng)
    for i in range(6):
        state = rules.join(state, player_id=f"p{i}", name=f"n{i}", rng=rng)
    for step in range(200):
        ids = [p.id for p in state.players]
        pid = ids[step % len(ids)]
        state = rules.move(state, player_id=pid, direction="udlr"[step % 4].replace("u", "up")
                           .replace("d", "down").replace("l", "left").replace("r", "right"), rng=rng)
        if step % 37 == 0:
            state = rules.leave(state, player_id=ids[0])
            state = rules.join(state, player_id=f"new{step}", name="x", rng=rng)
        for index, p in enumerate(state.players):
            assert state.player(p.id) is p
            assert state.has_player(p.id)
        assert not state.has_player(ids[0]) or ids[0] in [p.id for p in state.players]
    with pytest.raises(RuleError):
        state.player("nobody")
