"""chat/trending.py: tokenising, fair counting (per message, per sender, the
minimum of senders), the sliding window with decay, its bounds and its cost."""

import math
import unicodedata

import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from chat.trending import MAX_TOKEN_LENGTH, STOP_WORDS, TrendingWindow, tokenize

WORDS = st.sampled_from(["gato", "perro", "Gato", "GATO", "pájaro", "pa\u0301jaro", "ratón", "Straße", "STRASSE", "lobo", "de", "the"])
SENDERS = st.sampled_from(["s1", "s2", "s3", "s4"])


def key(word):
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", word).casefold())


def test_tokenize_normalises_and_filters():
    assert tokenize("¡El GATO y el gato! 2024 x mp3 Ñandú") == ["gato", "gato", "ñandú"]
    assert tokenize("Don't stop, the dogs' park") == ["stop", "dogs", "park"]
    assert tokenize("gato_perro") == ["gato", "perro"]
    # Decomposed and composed forms, and case variants, are one word.
    assert tokenize("Pa\u0301jaro PÁJARO pájaro") == ["pájaro"] * 3


def test_long_tokens_are_ignored_not_cut():
    longest = "x" * MAX_TOKEN_LENGTH
    assert MAX_TOKEN_LENGTH == 32
    assert tokenize(f"{longest} gato {longest}y electroencefalografista") == [
        longest, "gato", "electroencefalografista"]
    # Length is counted after NFC: 32 decomposed "é" are 32 letters.
    assert tokenize("e\u0301" * 32) == ["é" * 32]
    assert tokenize("e\u0301" * 33) == []


def test_stop_words_cover_both_languages():
    for word in ["the", "and", "de", "que", "los", "porque", "también", "with"]:
        assert word in STOP_WORDS
        assert tokenize(word) == []


@given(st.text())
def test_arbitrary_unicode_never_raises(text):
    words = tokenize(text)
    for word in words:
        assert 2 <= len(word) <= MAX_TOKEN_LENGTH
        assert word == unicodedata.normalize("NFC", word)
        assert not any(ch.isnumeric() for ch in word)
    window = TrendingWindow(window=60, min_senders=1)
    window.add(text, now=0.0, sender="a")
    window.top(now=1.0)


@given(st.lists(WORDS, min_size=1, max_size=20))
def test_a_word_counts_once_per_message(words):
    window = TrendingWindow(window=60, min_senders=1)
    window.add(" ".join(words), now=10.0, sender="a")
    expected = {key(w): 1 for w in words if key(w) not in {"de", "the"}}
    assert window.counts() == expected
    assert {w.word: w.count for w in window.top(now=10.0, limit=100)} == expected


@given(
    st.lists(st.tuples(st.floats(min_value=0, max_value=5, allow_nan=False), st.lists(WORDS, max_size=8)),
             max_size=40),
    st.integers(min_value=2, max_value=5),
)
def test_one_sender_alone_never_makes_a_word_trend(batch, min_senders):
    window = TrendingWindow(window=600, min_senders=min_senders)
    now = 0.0
    for gap, words in batch:
        now += gap
        window.add(" ".join(words), now=now, sender="only")
        assert window.top(now=now, limit=100) == []
        assert all(count == 1 for count in window.counts().values())


def test_the_minimum_of_senders():
    window = TrendingWindow(window=600, min_senders=3)
    for i in range(10):
        window.add("gato perro", now=float(i), sender="a")
    window.add("gato perro", now=10.0, sender="b")
    assert window.top(now=10.0) == []
    window.add("gato", now=11.0, sender="c")
    assert [(w.word, w.count) for w in window.top(now=11.0)] == [("gato", 3)]
    # "count" is senders, not messages: ten messages of "a" are one.
    assert window.count("GATO") == 3 and window.count("perro") == 2


@given(st.lists(st.tuples(SENDERS, st.lists(WORDS, max_size=6)), max_size=30), st.randoms())
def test_messages_at_the_same_time_count_the_same_in_any_order(batch, rng):
    """Workers may see simultaneous messages in another order: same result."""
    shuffled = list(batch)
    rng.shuffle(shuffled)
    results = []
    for messages in (batch, shuffled):
        window = TrendingWindow(window=60, min_senders=2)
        for sender, words in messages:
            window.add(" ".join(words), now=5.0, sender=sender)
        results.append((window.counts(), window.top(now=6.0, limit=100)))
    assert results[0] == results[1]


messages = st.lists(
    st.tuples(st.floats(min_value=0, max_value=50, allow_nan=False), SENDERS, st.lists(WORDS, max_size=8)),
    max_size=40,
)


@given(messages, st.floats(min_value=1, max_value=200))
def test_everything_expires_after_the_window(batch, window_seconds):
    window = TrendingWindow(window=window_seconds)
    now = 0.0
    for gap, sender, words in batch:
        now += gap
        window.add(" ".join(words), now=now, sender=sender)
    window.advance(now=now + window_seconds)
    assert len(window) == 0 and window.uses == 0
    assert window.top(now=now + window_seconds) == []


class WindowMachine(RuleBasedStateMachine):
    """Compare the window with a naive model that keeps every message."""

    WINDOW = 30.0

    @initialize(min_senders=st.integers(min_value=1, max_value=3))
    def start(self, min_senders):
        self.min_senders = min_senders
        self.window = TrendingWindow(window=self.WINDOW, min_senders=min_senders)
        self.now = 0.0
        self.model: list[tuple[float, str, list[str]]] = []

    @rule(gap=st.floats(min_value=0, max_value=20, allow_nan=False), sender=SENDERS,
          words=st.lists(WORDS, max_size=6))
    def send(self, gap, sender, words):
        self.now += gap
        text = " ".join(words)
        self.window.add(text, now=self.now, sender=sender)
        self.model.append((self.now, sender, tokenize(text)))

    @rule(gap=st.floats(min_value=0, max_value=40, allow_nan=False))
    def wait(self, gap):
        self.now += gap
        self.window.advance(now=self.now)

    def expected(self):
        latest: dict[tuple[str, str], float] = {}
        for t, sender, words in self.model:
            if t > self.now - self.WINDOW:
                for w in words:
                    latest[(w, sender)] = t
        counts: dict[str, int] = {}
        scores: dict[str, float] = {}
        for (w, _), t in latest.items():
            counts[w] = counts.get(w, 0) + 1
            scores[w] = scores.get(w, 0.0) + math.exp(-(self.now - t) / (self.WINDOW / 3))
        return counts, scores

    @invariant()
    def counts_and_scores_match_the_model(self):
        self.window.advance(now=self.now)
        counts, scores = self.expected()
        assert self.window.counts() == counts
        top = self.window.top(now=self.now, limit=100)
        assert {w.word: w.count for w in top} == {w: c for w, c in counts.items() if c >= self.min_senders}
        for w in top:
            assert w.score == pytest.approx(scores[w.word], rel=1e-6, abs=2e-3)
        assert [w.score for w in top] == sorted((w.score for w in top), reverse=True)


TestWindowMachine = WindowMachine.TestCase
TestWindowMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


VOCABULARY = st.integers(min_value=0, max_value=40).map(lambda i: f"w{chr(97 + i % 26)}{chr(97 + i // 26)}")


class BoundedWindowMachine(RuleBasedStateMachine):
    """Small limits, many senders and words: the bounds always hold, and
    trending words are never evicted while a word that cannot trend is there."""

    @initialize(max_tokens=st.integers(min_value=1, max_value=12),
                per_sender=st.integers(min_value=1, max_value=6),
                max_uses=st.integers(min_value=1, max_value=30))
    def start(self, max_tokens, per_sender, max_uses):
        self.window = TrendingWindow(window=100, min_senders=2, max_tokens=max_tokens,
                                     max_words_per_sender=per_sender, max_uses=max_uses)
        self.now = 0.0

    @rule(gap=st.floats(min_value=0, max_value=30, allow_nan=False),
          sender=st.integers(min_value=0, max_value=8).map(str),
          words=st.lists(VOCABULARY, max_size=10))
    def send(self, gap, sender, words):
        self.now += gap
        window = self.window
        before = {w.word for w in window.top(now=self.now, limit=10_000)}
        distinct = set(tokenize(" ".join(words)))
        no_cap_hit = (
            len(window) + len(distinct) <= window.max_tokens
            and window.uses + len(distinct) <= window.max_uses
            and len(window.sender_words(sender)) + len(distinct) <= window.max_words_per_sender
        )
        window.add(" ".join(words), now=self.now, sender=sender)
        after = {w.word for w in window.top(now=self.now, limit=10_000)}
        if no_cap_hit:
            assert before <= after  # a message alone never makes a word stop trending

    @invariant()
    def bounds_hold(self):
        window = self.window
        assert len(window) <= window.max_tokens
        assert window.uses <= window.max_uses
        counts = window.counts()
        assert sum(counts.values()) == window.uses
        assert all(c >= 1 for c in counts.values())
        for sender in map(str, range(9)):
            assert len(window.sender_words(sender)) <= window.max_words_per_sender
        assert len(window._top_heap) <= 2 * len(window._trending) + 64 + 20
        assert len(window._evict_heap) <= 2 * len(window) + 64 + 20
        top = window.top(now=self.now, limit=10_000)
        assert {w.word for w in top} == {w for w, c in counts.items() if c >= 2}


TestBoundedWindowMachine = BoundedWindowMachine.TestCase
TestBoundedWindowMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


@given(
    st.integers(min_value=1, max_value=20),
    st.lists(st.lists(VOCABULARY.map(lambda w: "z" + w), min_size=1, max_size=30), min_size=1, max_size=30),
    st.integers(min_value=1, max_value=5),
)
def test_words_of_one_sender_each_never_push_out_trending_words(n_trending, flood, flooders):
    """However many one-sender words arrive (one flooder or several, each with
    words of its own), the words that trend keep trending."""
    window = TrendingWindow(window=600, max_tokens=n_trending + 1, max_words_per_sender=100)
    trending = [f"tr{chr(97 + i)}" for i in range(n_trending)]
    for sender in ("alice", "bob"):
        window.add(" ".join(trending), now=0.0, sender=sender)
    # Old enough to score less than one fresh use: still, they stay.
    now = 400.0
    for i, words in enumerate(flood):
        sender = f"flooder{chr(97 + i % flooders)}"
        flooded = " ".join(f"{w}{sender[-1]}" for w in words)
        assert tokenize(flooded)
        window.add(flooded, now=now, sender=sender)
        now += 1.0
        top = window.top(now=now, limit=100)
        assert sorted(w.word for w in top) == sorted(trending)
        assert all(w.count == 2 for w in top)
        assert len(window) <= window.max_tokens


def test_a_sender_holds_at_most_its_share_of_the_vocabulary():
    window = TrendingWindow(window=600, max_tokens=100)
    assert window.max_words_per_sender == 10
    for i in range(50):
        window.add(f"palabra{chr(97 + i % 26)}{chr(97 + i // 26)}", now=float(i), sender="x")
    held = window.sender_words("x")
    assert len(held) == 10
    # The ten most recent are kept, least recently used first.
    assert held == [f"palabra{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(40, 50)]


def test_vocabulary_cap_evicts_the_least_valuable_first():
    window = TrendingWindow(window=600, max_tokens=3, max_words_per_sender=10)
    window.add("viejo", now=0.0, sender="a")
    window.add("gato", now=1.0, sender="a")
    window.add("gato", now=1.0, sender="b")  # trending
    window.add("nuevo", now=2.0, sender="c")
    assert len(window) == 3
    # Full: the one-sender word used longest ago goes, not the trending one.
    window.add("raton", now=3.0, sender="d")
    assert window.counts() == {"gato": 2, "nuevo": 1, "raton": 1}
    window.add("perro", now=4.0, sender="a")
    window.add("perro", now=4.0, sender="b")
    assert window.counts() == {"gato": 2, "raton": 1, "perro": 2}
    window.add("lobo", now=5.0, sender="c")
    window.add("lobo", now=5.0, sender="d")
    assert window.counts() == {"gato": 2, "perro": 2, "lobo": 2}
    # Only trending words left to evict: the lowest score (the oldest) goes.
    window.add("zorro", now=6.0, sender="e")
    assert window.counts() == {"perro": 2, "lobo": 2, "zorro": 1}


def test_uses_cap_drops_the_oldest_uses():
    window = TrendingWindow(window=600, max_uses=4)
    for i, word in enumerate(["gato", "perro", "lobo", "zorro", "raton"]):
        window.add(word, now=float(i), sender=f"s{i}")
    assert window.uses == 4 and "gato" not in window.counts()


def test_recent_use_outranks_old_use():
    window = TrendingWindow(window=600)
    for i, sender in enumerate(["a", "b", "c"]):
        window.add("gato", now=float(i), sender=sender)
    for i, sender in enumerate(["a", "b", "c"]):
        window.add("perro", now=400.0 + i, sender=sender)
    top = window.top(now=410.0)
    assert [w.word for w in top] == ["perro", "gato"]
    assert top[0].count == top[1].count == 3
    assert top[0].score > top[1].score


def test_repeating_a_word_refreshes_the_senders_one_use():
    window = TrendingWindow(window=10)
    window.add("gato", now=0.0, sender="a")
    window.add("gato", now=0.0, sender="b")
    window.add("gato", now=8.0, sender="a")
    assert window.top(now=9.0)[0].count == 2
    window.advance(now=10.0)  # b's use (t=0) left; a's (t=8) is still there
    assert window.counts() == {"gato": 1} and window.top(now=10.0) == []
    window.advance(now=18.0)
    assert window.counts() == {}


def test_top_is_limited():
    window = TrendingWindow(window=60, max_words_per_sender=1000)
    text = " ".join(f"palabra{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(100))
    window.add(text, now=1.0, sender="a")
    window.add(text, now=1.0, sender="b")
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


def _fill(window, size, now):
    words = list(_vocabulary(size))
    for start in range(0, size, 100):
        window.add(" ".join(words[start:start + 100]), now=now, sender=f"filler{start}")


def test_update_cost_does_not_depend_on_the_vocabulary():
    """A message touches only its own words, with 100,000 words in the room or 10."""
    costs = []
    for size in (10, 100_000):
        window = TrendingWindow(window=600, max_tokens=500_000)
        _fill(window, size, 1.0)
        assert len(window) == size
        window.top(now=1.0)
        before, upkeep = window.operations, window.maintenance
        for i in range(200):
            window.add("gato perro ratón lobo zorro", now=2.0 + i * 0.01, sender=("a", "b")[i % 2])
        costs.append(window.operations - before)
        # Heap compaction is amortised: at most one pass over the live words
        # per (live words + 64) pushes.
        assert window.maintenance - upkeep <= 2 * (len(window) + 5) * (1 + 200 * 10 // (len(window) + 64))
        top = window.top(now=5.0, limit=3)
        assert {w.word for w in top} <= {"gato", "perro", "ratón", "lobo", "zorro"} and len(top) == 3
    small, large = costs
    assert small == large


def test_eviction_cost_does_not_depend_on_the_vocabulary():
    """With the vocabulary full, each new word evicts one: still a few
    operations per word, whatever the cap."""
    for size in (10, 50_000):
        window = TrendingWindow(window=600, max_tokens=size)
        _fill(window, size, 1.0)
        before = window.operations
        words = [f"nueva{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676)}" for i in range(1000)]
        for i in range(200):
            window.add(" ".join(words[i * 5:i * 5 + 5]), now=2.0 + i * 0.01, sender=f"s{i}")
        assert len(window) == size
        assert window.operations - before <= 200 * 5 * 30


def test_memory_is_bounded_per_room():
    window = TrendingWindow(window=600, max_tokens=1000)
    words = list(_vocabulary(5000))
    for i in range(0, 5000, 10):
        window.add(" ".join(words[i:i + 10]), now=float(i), sender=f"s{i % 300}")
    assert len(window) <= 1000
    assert window.uses <= window.max_uses
    assert len(window._top_heap) <= 2 * len(window._trending) + 64 + 10
    assert len(window._evict_heap) <= 2 * len(window) + 64 + 10


def test_times_out_of_order_are_clamped():
    window = TrendingWindow(window=10, min_senders=1)
    window.add("gato", now=100.0, sender="a")
    window.add("perro", now=50.0, sender="a")  # taken as 100.0
    window.advance(now=109.0)
    assert window.counts() == {"gato": 1, "perro": 1}
    window.advance(now=110.0)
    assert window.counts() == {}


def test_rebase_keeps_scores():
    window = TrendingWindow(window=3)
    window.add("gato", now=0.0, sender="x")
    for t in range(1, 200):
        window.add("perro gato", now=float(t), sender=("a", "b", "c")[t % 3])
        assert window.count("gato") == min(t + 1, 3)  # "x" at 0, then a, b, c in turn
    top = window.top(now=199.0)
    assert {w.word for w in top} == {"gato", "perro"}
    assert top[0].score == pytest.approx(top[1].score)
