"""Trending words of a chat room over a sliding time window (pure: no Django, no socketio).

Tokenising: Unicode NFC, case-folded, split into runs of Unicode word
characters (letters, marks, digits and connectors, minus the underscore);
tokens that contain a digit, one-character tokens and stop words (Spanish and
English) are dropped. Case and normalisation variants ("Gato", "GATO", and an
"ñ" written as "n" + combining tilde) are the same word.

Counting: every message adds its words at its time `t`. A word's score is the
sum over its occurrences in the window of `exp(-(now - t) / tau)` with
`tau = window / 3`, so recent use weighs more and an occurrence counts for
nothing once it is `window` seconds old, when it is removed exactly.

Cost: scores are stored relative to a reference time `t0` as
`sum(exp((t - t0) / tau))`. Every stored score decays by the same factor, so
the ranking of stored scores is the ranking of current scores and nothing has
to be touched as time passes. Adding a message updates only its own words
(a dict update and a heap push per distinct word); expiring it later undoes
exactly those updates. The top list is read from a max-heap with lazy deletion
(stale entries are dropped as they surface; the heap is compacted when stale
entries outnumber live ones), so a message costs O(len(message) * log V)
amortised, never O(V) for a room vocabulary of V words. The reference time is
moved forward (one O(V) pass) only every `REBASE_AFTER * tau` seconds.

Memory: bounded by `max_tokens` word occurrences held in the window per room;
beyond it the oldest messages are dropped early (vocabulary <= max_tokens).
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter, deque
from dataclasses import dataclass

DEFAULT_WINDOW_SECONDS = 600.0
DEFAULT_TOP = 30
DEFAULT_MAX_TOKENS = 250_000
# Stored weights grow like exp((t - t0) / tau); re-base before that gets large.
REBASE_AFTER = 40.0

# Runs of word characters without "_" (so "gato_perro" is two words).
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

_STOP_EN = """
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't down during each few for from further get got had hadn't has hasn't have
haven't having he he'd he'll he's her here here's hers herself him himself his how how's i i'd
i'll i'm i've if in into is isn't it it's its itself just let's like me more most mustn't my
myself no nor not now of off ok oh on once only or other ought our ours ourselves out over own
really same shan't she she'd she'll she's should shouldn't so some such than that that's the
their theirs them themselves then there there's these they they'd they'll they're they've this
those through to too under until up us very was wasn't we we'd we'll we're we've were weren't
what what's when when's where where's which while who who's whom why why's will with won't
would wouldn't yeah yes you you'd you'll you're you've your yours yourself yourselves im dont
didnt doesnt isnt cant wont thats ive youre
"""

_STOP_ES = """
a al algo algunas algunos ante antes aquel aquella aquellas aquellos aqui aquí así asi aun aún
cada como cómo con contra cual cuál cuales cuáles cuando cuándo de del desde donde dónde dos
el él ella ellas ellos en entre era erais eran eras eres es esa esas ese eso esos esta está
estaba estaban estado estais estáis estamos estan están estar estas estás este esto estos
estoy fue fueron fui fuimos ha habéis había habia han has hasta hay he hemos la las le les lo
los más mas me mi mí mis mucho muchos muy nada ni no nos nosotras nosotros nuestra nuestras
nuestro nuestros o os otra otras otro otros para pero poco por porque que qué quien quién
quienes se sea ser si sí siempre sin sobre sois solo sólo somos son soy su sus también
tambien tanto te tenemos tener tengo ti tiene tienen todo todos tu tú tus un una unas uno
unos vosotras vosotros vuestra vuestro ya yo eh ah bueno pues tan vez hace hacer hoy
toda todas mío mía míos mías tuyo tuya suyo suya luego entonces aunque donde cuanto
"""


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


STOP_WORDS: frozenset[str] = frozenset(_normalise(w) for w in (_STOP_EN + _STOP_ES).split())


def tokenize(text: str) -> list[str]:
    """The words of `text` that can trend, in order (repeats kept)."""
    words = []
    for match in _WORD_RE.finditer(_normalise(text)):
        word = match.group(0).replace("’", "'")
        if len(word) < 2 or word in STOP_WORDS or any(ch.isnumeric() for ch in word):
            continue
        words.append(word)
    return words


@dataclass(frozen=True, slots=True)
class TrendingWord:
    word: str
    score: float
    count: int

    def as_dict(self) -> dict[str, object]:
        return {"word": self.word, "score": self.score, "count": self.count}


@dataclass(slots=True)
class _Entry:
    time: float
    words: tuple[tuple[str, int], ...]
    tokens: int


class TrendingWindow:
    """The trending words of one room. `now` is always passed in (seconds, any epoch)."""

    def __init__(
        self,
        *,
        window: float = DEFAULT_WINDOW_SECONDS,
        max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        if window <= 0:
            raise ValueError("window must be positive")
        if max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        self.window = float(window)
        self.tau = self.window / 3.0
        self.max_tokens = max_tokens
        self._entries: deque[_Entry] = deque()
        self._counts: dict[str, int] = {}
        self._weights: dict[str, float] = {}  # relative to self._t0
        self._heap: list[tuple[float, str]] = []  # (-weight, word), lazily deleted
        self._t0: float | None = None
        self._last_time = -math.inf
        self._tokens = 0
        # Dictionary/heap operations done so far, per word occurrence
        # (`operations`) and in amortised upkeep (`maintenance`, heap
        # compaction and re-basing): lets tests check costs without timing.
        self.operations = 0
        self.maintenance = 0

    # ----- reading ----------------------------------------------------------
    def __len__(self) -> int:
        """Distinct words in the window."""
        return len(self._counts)

    @property
    def tokens(self) -> int:
        """Word occurrences held in the window."""
        return self._tokens

    def count(self, word: str) -> int:
        return self._counts.get(_normalise(word), 0)

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def score(self, word: str, *, now: float) -> float:
        weight = self._weights.get(_normalise(word))
        if weight is None or self._t0 is None:
            return 0.0
        return max(0.0, weight * math.exp((self._t0 - now) / self.tau))

    def top(self, *, now: float, limit: int = DEFAULT_TOP) -> list[TrendingWord]:
        """The `limit` highest-scoring words at `now` (expires old messages first)."""
        self.advance(now=now)
        if limit <= 0 or not self._counts or self._t0 is None:
            return []
        factor = math.exp((self._t0 - now) / self.tau)
        found: list[tuple[float, str]] = []
        seen: set[str] = set()
        heap = self._heap
        while heap and len(found) < limit:
            neg_weight, word = heapq.heappop(heap)
            self.operations += 1
            if word in seen or self._weights.get(word) != -neg_weight:
                continue  # stale: the word changed or left since this entry was pushed
            seen.add(word)
            found.append((neg_weight, word))
        for item in found:
            heapq.heappush(heap, item)
        # Highest score first; ties broken by the word so every worker agrees.
        found.sort()
        return [
            TrendingWord(word=word, score=round(-neg * factor, 3), count=self._counts[word])
            for neg, word in found
        ]

    # ----- writing ----------------------------------------------------------
    def add(self, text: str, *, now: float) -> int:
        """Count the words of a message sent at `now`; returns how many were counted.

        Times are expected in order; an earlier time than the last one is taken
        as the last one (clock steps never reorder the window).
        """
        words = tokenize(text)
        return self.add_tokens(words, now=now)

    def add_tokens(self, words: list[str], *, now: float) -> int:
        now = max(float(now), self._last_time)
        self._last_time = now
        self.advance(now=now)
        if not words:
            return 0
        if self._t0 is None:
            self._t0 = now
        elif now - self._t0 > REBASE_AFTER * self.tau:
            self._rebase(now)
        grouped = tuple(Counter(words).items())
        weight = math.exp((now - self._t0) / self.tau)
        counts, weights, heap = self._counts, self._weights, self._heap
        for word, n in grouped:
            counts[word] = counts.get(word, 0) + n
            new = weights.get(word, 0.0) + n * weight
            weights[word] = new
            heapq.heappush(heap, (-new, word))
            self.operations += 2
        self._entries.append(_Entry(time=now, words=grouped, tokens=len(words)))
        self._tokens += len(words)
        while self._tokens > self.max_tokens and self._entries:
            self._expire_oldest()
        self._maybe_compact()
        return len(words)

    def advance(self, *, now: float) -> None:
        """Drop every message that is `window` seconds old or older."""
        now = float(now)
        entries = self._entries
        while entries and entries[0].time + self.window <= now:
            self._expire_oldest()
        if not entries:
            self._reset_storage()

    def clear(self) -> None:
        self._entries.clear()
        self._reset_storage()

    # ----- internals ----------------------------------------------------------
    def _reset_storage(self) -> None:
        self._counts.clear()
        self._weights.clear()
        self._heap.clear()
        self._tokens = 0
        self._t0 = None

    def _expire_oldest(self) -> None:
        entry = self._entries.popleft()
        assert self._t0 is not None
        weight = math.exp((entry.time - self._t0) / self.tau)
        counts, weights = self._counts, self._weights
        for word, n in entry.words:
            left = counts[word] - n
            self.operations += 2
            if left <= 0:
                del counts[word]
                del weights[word]  # its heap entries are now stale
            else:
                counts[word] = left
                new = max(0.0, weights[word] - n * weight)
                weights[word] = new
                heapq.heappush(self._heap, (-new, word))
                self.operations += 1
        self._tokens -= entry.tokens

    def _rebase(self, now: float) -> None:
        assert self._t0 is not None
        factor = math.exp((self._t0 - now) / self.tau)
        self._weights = {word: weight * factor for word, weight in self._weights.items()}
        self._t0 = now
        self._heap = [(-weight, word) for word, weight in self._weights.items()]
        heapq.heapify(self._heap)
        self.maintenance += len(self._weights)

    def _maybe_compact(self) -> None:
        if len(self._heap) > 2 * len(self._weights) + 64:
            self._heap = [(-weight, word) for word, weight in self._weights.items()]
            heapq.heapify(self._heap)
            self.maintenance += len(self._weights)
