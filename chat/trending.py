"""Trending words of a chat room over a sliding time window (pure: no Django, no socketio).

Tokenising: Unicode NFC, case-folded, split into runs of Unicode word
characters (letters, marks, digits and connectors, minus the underscore);
tokens that contain a digit, one-character tokens, tokens longer than
`MAX_TOKEN_LENGTH` and stop words (Spanish and English) are dropped. Case and
normalisation variants ("Gato", "GATO", and an "ñ" written as "n" + combining
tilde) are the same word.

Fairness: a room is read by a crowd and written to by anyone, including a
script, so what counts is who used a word, not how often it was typed:

- a word counts at most once per message (a message is a set of words);
- a word counts at most once per sender within the window: a sender (an
  opaque key, e.g. the HMAC of a browser session) holds one *use* of a word,
  at the time of its latest message with it;
- a word trends (is returned by `top`) only when at least `min_senders`
  distinct senders hold a use of it, so one sender alone, however many
  messages or connections, never makes a word trend.

A word's `count` is the number of distinct senders holding a use of it, which
is also its number of occurrences after this de-duplication.

Scoring: a word's score is the sum over its uses of `exp(-(now - t) / tau)`
with `tau = window / 3`, so recent use weighs more; a use leaves the window
(and stops counting) exactly `window` seconds after `t`.

Cost: scores are stored relative to a reference time `t0` as
`sum(exp((t - t0) / tau))`. Every stored score decays by the same factor, so
the ranking of stored scores is the ranking of current scores and nothing has
to be touched as time passes. Adding a message updates only its own words (a
few dictionary updates and heap pushes per distinct word); expiring a use
later undoes exactly its update. The top list is read from a max-heap of the
words that may trend, the word to evict from a min-heap of all words, both
with lazy deletion (stale entries are dropped as they surface; a heap is
compacted when stale entries outnumber live ones), so a message costs
O(len(message) * log V) amortised, never O(V) for a room vocabulary of V
words. The reference time moves forward (one O(V) pass) only every
`REBASE_AFTER * tau` seconds.

Memory: bounded whatever clients send, per room:

- at most `max_tokens` distinct words; a new word beyond that evicts the word
  that matters least: first one that cannot trend yet (fewer than
  `min_senders` senders), lowest score first (for one-sender words: the one
  used longest ago), and only when every word can trend, the lowest-scoring
  one;
- at most `max_words_per_sender` uses per sender (its oldest leave early), so
  one sender can hold only a slice of the vocabulary and cannot push other
  people's words out by itself;
- at most `max_uses` uses in all (the oldest leave early, as if the window
  were shorter for a while);
- the heaps hold at most twice the live entries plus a constant.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

DEFAULT_WINDOW_SECONDS = 600.0
DEFAULT_TOP = 30
DEFAULT_MIN_SENDERS = 2
DEFAULT_MAX_TOKENS = 5_000
# Defaults derived from max_tokens: a sender may hold a tenth of the
# vocabulary, the window four uses per word on average. A use costs about
# 450 bytes (measured), so with max_tokens 5000 a room flooded to every limit
# holds about 15 MB; a lively room of a few hundred people stays well below.
SENDER_SHARE = 10
USES_PER_TOKEN = 4
# Longer runs of letters are ignored, not cut: the longest words people use
# in Spanish or English are about 20-25 letters ("electroencefalografista",
# "internationalization"), so anything longer is a URL fragment, a keyboard
# mash or an attempt to fill the cloud; 32 also matches the nickname limit and
# keeps one stored word at a few hundred bytes at most.
MAX_TOKEN_LENGTH = 32
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
        if (
            len(word) < 2
            or len(word) > MAX_TOKEN_LENGTH
            or word in STOP_WORDS
            or any(ch.isnumeric() for ch in word)
        ):
            continue
        words.append(word)
    return words


@dataclass(frozen=True, slots=True)
class TrendingWord:
    word: str
    score: float
    count: int  # distinct senders holding a use of the word in the window

    def as_dict(self) -> dict[str, object]:
        return {"word": self.word, "score": self.score, "count": self.count}


class TrendingWindow:
    """The trending words of one room. `now` is always passed in (seconds, any epoch)."""

    def __init__(
        self,
        *,
        window: float = DEFAULT_WINDOW_SECONDS,
        min_senders: int = DEFAULT_MIN_SENDERS,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        max_words_per_sender: int | None = None,
        max_uses: int | None = None,
    ) -> None:
        if window <= 0:
            raise ValueError("window must be positive")
        if min_senders < 1:
            raise ValueError("min_senders must be at least 1")
        if max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        self.window = float(window)
        self.tau = self.window / 3.0
        self.min_senders = min_senders
        self.max_tokens = max_tokens
        self.max_words_per_sender = max_words_per_sender or max(1, max_tokens // SENDER_SHARE)
        self.max_uses = max_uses or max_tokens * USES_PER_TOKEN
        if self.max_words_per_sender < 1 or self.max_uses < 1:
            raise ValueError("limits must be at least 1")
        # (word, sender) -> time of the sender's latest use; oldest first,
        # because times never go backwards (see add_tokens).
        self._uses: OrderedDict[tuple[str, str], float] = OrderedDict()
        # sender -> its words, least recently used first
        self._by_sender: dict[str, OrderedDict[str, None]] = {}
        self._senders: dict[str, set[str]] = {}  # word -> senders holding a use
        self._weights: dict[str, float] = {}  # word -> sum of its uses' weights, relative to _t0
        self._trending: set[str] = set()  # words with at least min_senders senders
        self._top_heap: list[tuple[float, str]] = []  # (-weight, word) of trending words, lazy
        self._evict_heap: list[tuple[bool, float, str]] = []  # (trending, weight, word), lazy
        self._t0: float | None = None
        self._last_time = -math.inf
        # Dictionary/heap operations done so far, per use (`operations`) and in
        # amortised upkeep (`maintenance`: heap compaction and re-basing): lets
        # tests check costs without timing.
        self.operations = 0
        self.maintenance = 0

    # ----- reading ----------------------------------------------------------
    def __len__(self) -> int:
        """Distinct words in the window (trending or not)."""
        return len(self._weights)

    @property
    def uses(self) -> int:
        """(word, sender) uses held in the window."""
        return len(self._uses)

    def count(self, word: str) -> int:
        """Distinct senders holding a use of `word`."""
        return len(self._senders.get(_normalise(word), ()))

    def counts(self) -> dict[str, int]:
        """Every word held (trending or not) and its number of senders."""
        return {word: len(senders) for word, senders in self._senders.items()}

    def sender_words(self, sender: str) -> list[str]:
        """The words `sender` holds a use of, least recently used first."""
        return list(self._by_sender.get(sender, ()))

    def score(self, word: str, *, now: float) -> float:
        weight = self._weights.get(_normalise(word))
        if weight is None or self._t0 is None:
            return 0.0
        return max(0.0, weight * math.exp((self._t0 - now) / self.tau))

    def top(self, *, now: float, limit: int = DEFAULT_TOP) -> list[TrendingWord]:
        """The `limit` highest-scoring trending words at `now` (expires old uses first)."""
        self.advance(now=now)
        if limit <= 0 or not self._trending or self._t0 is None:
            return []
        factor = math.exp((self._t0 - now) / self.tau)
        found: list[tuple[float, str]] = []
        seen: set[str] = set()
        heap = self._top_heap
        while heap and len(found) < limit:
            neg_weight, word = heapq.heappop(heap)
            self.operations += 1
            if word in seen or word not in self._trending or self._weights.get(word) != -neg_weight:
                continue  # stale: the word changed, stopped trending or left since this was pushed
            seen.add(word)
            found.append((neg_weight, word))
        for item in found:
            heapq.heappush(heap, item)
        # Highest score first; ties broken by the word so every worker agrees.
        found.sort()
        return [
            TrendingWord(word=word, score=round(-neg * factor, 3), count=len(self._senders[word]))
            for neg, word in found
        ]

    # ----- writing ----------------------------------------------------------
    def add(self, text: str, *, now: float, sender: str) -> int:
        """Count the words of a message `sender` sent at `now`; returns how
        many distinct words it has.

        Times are expected in order; an earlier time than the last one is taken
        as the last one (clock steps never reorder the window).
        """
        return self.add_tokens(tokenize(text), now=now, sender=sender)

    def add_tokens(self, words: list[str], *, now: float, sender: str) -> int:
        now = max(float(now), self._last_time)
        self._last_time = now
        self.advance(now=now)
        distinct = list(dict.fromkeys(words))  # at most once per message
        if not distinct:
            return 0
        if self._t0 is None:
            self._t0 = now
        elif now - self._t0 > REBASE_AFTER * self.tau:
            self._rebase(now)
        weight = math.exp((now - self._t0) / self.tau)
        for word in distinct:
            self._use(word, sender, now, weight)
        while len(self._uses) > self.max_uses:
            self._drop_oldest_use()
        self._maybe_compact()
        return len(distinct)

    def advance(self, *, now: float) -> None:
        """Drop every use that is `window` seconds old or older."""
        now = float(now)
        uses = self._uses
        while uses and next(iter(uses.values())) + self.window <= now:
            self._drop_oldest_use()
        if not uses:
            self._reset_storage()
        else:
            self._maybe_compact()

    def clear(self) -> None:
        self._reset_storage()

    # ----- internals ----------------------------------------------------------
    def _use(self, word: str, sender: str, now: float, weight: float) -> None:
        key = (word, sender)
        previous = self._uses.get(key)
        if previous is not None:
            # The sender used the word again: its one use moves to now.
            self._uses.move_to_end(key)
            self._uses[key] = now
            self._by_sender[sender].move_to_end(word)
            assert self._t0 is not None
            self._weights[word] += weight - math.exp((previous - self._t0) / self.tau)
            self.operations += 3
            self._pushed(word)
            return
        own = self._by_sender.get(sender)
        if own is not None and len(own) >= self.max_words_per_sender:
            self._drop_use(next(iter(own)), sender)  # the sender's least recently used word
        if word not in self._weights:
            while len(self._weights) >= self.max_tokens:
                self._evict_word()
            self._weights[word] = 0.0
            self._senders[word] = set()
        self._uses[key] = now
        # Looked up again: the eviction above may have removed this sender's last word.
        own = self._by_sender.get(sender)
        if own is None:
            own = self._by_sender[sender] = OrderedDict()
        own[word] = None
        senders = self._senders[word]
        senders.add(sender)
        self._weights[word] += weight
        if len(senders) >= self.min_senders:
            self._trending.add(word)
        self.operations += 4
        self._pushed(word)

    def _pushed(self, word: str) -> None:
        """Record the word's new weight in the heaps (older entries become stale)."""
        weight = self._weights[word]
        trending = word in self._trending
        if trending:
            heapq.heappush(self._top_heap, (-weight, word))
        heapq.heappush(self._evict_heap, (trending, weight, word))
        self.operations += 1 + trending

    def _drop_use(self, word: str, sender: str) -> None:
        when = self._uses.pop((word, sender))
        own = self._by_sender[sender]
        del own[word]
        if not own:
            del self._by_sender[sender]
        senders = self._senders[word]
        senders.discard(sender)
        self.operations += 3
        if not senders:
            del self._senders[word]
            del self._weights[word]  # its heap entries are now stale
            self._trending.discard(word)
            return
        assert self._t0 is not None
        self._weights[word] = max(0.0, self._weights[word] - math.exp((when - self._t0) / self.tau))
        if len(senders) < self.min_senders:
            self._trending.discard(word)
        self._pushed(word)

    def _drop_oldest_use(self) -> None:
        word, sender = next(iter(self._uses))
        self._drop_use(word, sender)

    def _evict_word(self) -> None:
        """Remove the word that matters least (see the module docstring)."""
        heap = self._evict_heap
        while heap:
            trending, weight, word = heapq.heappop(heap)
            self.operations += 1
            if self._weights.get(word) == weight and (word in self._trending) == trending:
                for sender in list(self._senders[word]):
                    self._drop_use(word, sender)
                return
        # Unreachable while the heap holds an entry for every live word; keep
        # the bound anyway by rebuilding and trying again.
        self._rebuild_heaps()
        if self._evict_heap:
            self._evict_word()

    def _reset_storage(self) -> None:
        self._uses.clear()
        self._by_sender.clear()
        self._senders.clear()
        self._weights.clear()
        self._trending.clear()
        self._top_heap.clear()
        self._evict_heap.clear()
        self._t0 = None

    def _rebase(self, now: float) -> None:
        assert self._t0 is not None
        factor = math.exp((self._t0 - now) / self.tau)
        self._weights = {word: weight * factor for word, weight in self._weights.items()}
        self._t0 = now
        self._rebuild_heaps()

    def _rebuild_heaps(self) -> None:
        weights, trending = self._weights, self._trending
        self._top_heap = [(-weights[word], word) for word in trending]
        heapq.heapify(self._top_heap)
        self._evict_heap = [(word in trending, weight, word) for word, weight in weights.items()]
        heapq.heapify(self._evict_heap)
        self.maintenance += len(weights) + len(trending)

    def _maybe_compact(self) -> None:
        if len(self._top_heap) > 2 * len(self._trending) + 64:
            self._top_heap = [(-self._weights[word], word) for word in self._trending]
            heapq.heapify(self._top_heap)
            self.maintenance += len(self._trending)
        if len(self._evict_heap) > 2 * len(self._weights) + 64:
            trending = self._trending
            self._evict_heap = [(word in trending, weight, word) for word, weight in self._weights.items()]
            heapq.heapify(self._evict_heap)
            self.maintenance += len(self._weights)
