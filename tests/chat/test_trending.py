"""chat/trending.py: tokenising, the sliding window with decay, and its cost."""

import unicodedata

from hypothesis import given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from chat.trending import STOP_WORDS, TrendingWindow, tokenize

WORDS = st.sampled_from(["gato", "perro", "Gato", "GATO", "pájaro", "pa\u0301jaro", "ratón", "Straße", "STRASSE", "lobo", "de", "the"])


def test_tokenize_normalises_and_filters():
    assert tokenize("¡El GATO y el gato! 2024 x mp3 Ñandú") == ["gato", "gato", "ñandú"]
    assert tokenize("Don't stop, the dogs' park") == ["stop", "dogs", "park"]
    assert tokenize("gato_perro") == ["gato", "perro"]
    # Decomposed and composed forms, and case variants, are one word.
    assert tokenize("Pa\u0301jaro PÁJARO pájaro") == ["pájaro"] * 3


def test_stop_words_cover_both_languages():
    for word in ["the", "and", "de", "que", "los", "porque", "también", "with"]:
        assert word in STOP_WORDS
        assert tokenize(word) == []


@given(st.text())
def test_arbitrary_unicode_never_raises(text):
    words = tokenize(text)
    for word in words:
        assert len(word) >= 2
        assert word == unicodedata.normalize("NFC", word)
        assert not any(ch.isnumeric() for ch in word)
    window = TrendingWindow(window=60)
    window.add(text, now=0.0)
    window.top(now=1.0)


@given(st.lists(WORDS, min_size=1, max_size=20))
def test_case_and_normalisation_variants_count_as_one_word(words):
    window = TrendingWindow(window=60)
    window.add(" ".join(words), now=10.0)
    expected = {}
    for w in words:
        key = unicodedata.normalize("NFC", unicodedata.normalize("NFC", w).casefold())
        if key not in {"de", "the"}:
            expected[key] = expected.get(key, 0) + 1
    assert window.counts() == expected
    assert sum(w.count for w in window.top(now=10.0, limit=100)) == sum(expected.values())


messages = st.lists(
    st.tuples(st.floats(min_value=0, max_value=50, allow_nan=False), st.lists(WORDS, max_size=8)),
    max_size=40,
)


@given(messages, st.floats(min_value=1, max_value=200))
def test_everything_expires_after_the_window(batch, window_seconds):
    window = TrendingWindow(window=window_seconds)
    now = 0.0
    for gap, words in batch:
        now += gap
        window.add(" ".join(words), now=now)
    window.advance(now=now + window_seconds)
    assert len(window) == 0 and window.tokens == 0
    assert window.top(now=now + window_seconds) == []


@given(messages, st.floats(min_value=1, max_value=100), st.integers(min_value=1, max_value=30))
def test_counts_never_negative_and_top_is_ordered(batch, window_seconds, max_tokens):
    window = TrendingWindow(window=window_seconds, max_tokens=max_tokens)
    now = 0.0
    for gap, words in batch:
        now += gap
        window.add(" ".join(words), now=now)
        assert window.tokens <= max_tokens
        assert all(c > 0 for c in window.counts().values())
        top = window.top(now=now)
        assert len(top) <= 30
        scores = [w.score for w in top]
        assert scores == sorted(scores, reverse=True)
        assert all(w.score >= 0 and w.count >= 1 for w in top)
        assert sum(window.counts().values()) == window.tokens


class WindowMachine(RuleBasedStateMachine):
    """Compare the window with a naive model that keeps every message."""

    def __init__(self):
        super().__init__()
        self.window = TrendingWindow(window=30)
        self.now = 0.0
        self.model: list[tuple[float, list[str]]] = []

    @rule(gap=st.floats(min_value=0, max_value=20, allow_nan=False), words=st.lists(WORDS, max_size=6))
    def send(self, gap, words):
        self.now += gap
        text = " ".join(words)
        self.window.add(text, now=self.now)
        self.model.append((self.now, tokenize(text)))

    @rule(gap=st.floats(min_value=0, max_value=40, allow_nan=False))
    def wait(self, gap):
        self.now += gap
        self.window.advance(now=self.now)

    @invariant()
    def counts_match_model(self):
        self.window.advance(now=self.now)
        expected: dict[str, int] = {}
        for t, words in self.model:
            if t > self.now - 30:
                for w in words:
                    expected[w] = expected.get(w, 0) + 1
        assert self.window.counts() == expected
        top = self.window.top(now=self.now, limit=100)
        assert {w.word: w.count for w in top} == expected


TestWindowMachine = WindowMachine.TestCase
TestWindowMachine.settings = settings(max_examples=60, stateful_step_count=30)


def test_recent_use_outranks_old_use():
    window = TrendingWindow(window=600)
    for i in range(3):
        window.add("gato", now=float(i))
    for i in range(3):
        window.add("perro", now=400.0 + i)
    top = window.top(now=410.0)
    assert [w.word for w in top] == ["perro", "gato"]
    assert top[0].count == top[1].count == 3
    assert top[0].score > top[1].score


def test_top_is_limited():
    window = TrendingWindow(window=60)
    window.add(" ".join(f"palabra{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(100)), now=1.0)
    assert len(window.top(now=1.0)) == 30
    assert len(window.top(now=1.0, limit=5)) == 5


def _vocabulary(n):
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    for i in range(n):
        word = ""
        while True:
            word += alphabet[i % 26]
            i //= 26
            if i == 0:
                break
        yield "zq" + word


def test_update_cost_does_not_depend_on_the_vocabulary():
    """A message touches only its own words, with 100,000 words in the room or 10."""
    costs = []
    for size in (10, 100_000):
        window = TrendingWindow(window=600, max_tokens=500_000)
        words = list(_vocabulary(size))
        for start in range(0, size, 100):
            window.add(" ".join(words[start:start + 100]), now=1.0)
        assert len(window) == size
        window.top(now=1.0)
        before, upkeep = window.operations, window.maintenance
        for i in range(200):
            window.add("gato perro ratón lobo zorro", now=2.0 + i * 0.01)
        costs.append(window.operations - before)
        # Heap compaction is amortised: at most one pass over the live words
        # per (live words + 64) pushes.
        assert window.maintenance - upkeep <= (len(window) + 5) * (1 + 200 * 5 // (len(window) + 64))
        top = window.top(now=5.0, limit=3)
        assert [w.word for w in top][:1] in (["gato"], ["lobo"], ["perro"], ["ratón"], ["zorro"])
    small, large = costs
    # Five words per message: two operations each, whatever the vocabulary.
    assert small == large == 200 * 5 * 2


def test_memory_is_bounded_per_room():
    window = TrendingWindow(window=600, max_tokens=1000)
    words = list(_vocabulary(5000))
    for i in range(0, 5000, 10):
        window.add(" ".join(words[i:i + 10]), now=float(i))
    assert window.tokens <= 1000
    assert len(window) <= 1000
    assert len(window._heap) <= 2 * len(window) + 64 + 10


def test_times_out_of_order_are_clamped():
    window = TrendingWindow(window=10)
    window.add("gato", now=100.0)
    window.add("perro", now=50.0)  # taken as 100.0
    window.advance(now=109.0)
    assert window.counts() == {"gato": 1, "perro": 1}
    window.advance(now=110.0)
    assert window.counts() == {}


def test_rebase_keeps_scores():
    window = TrendingWindow(window=3)
    window.add("gato", now=0.0)
    for t in range(1, 200):
        window.add("perro gato", now=float(t))
        assert window.count("gato") == min(t + 1, 3)
    top = window.top(now=199.0)
    assert [w.word for w in top] == ["gato", "perro"] or top[0].score == top[1].score
