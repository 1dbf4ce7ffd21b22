"""Cost of one trending update against the room's vocabulary size.

    python bench/chat/trending_cost.py --json bench/chat/trending_cost.json

For each vocabulary size V it fills a `chat.trending.TrendingWindow` with V
distinct words (all inside the window), then times `add()` of realistic
messages (12 words: half new to the room, half already in it) and `top()`
(the 30 best words, what the once-a-second push reads). Reported per call,
median of several rounds. The cost must stay flat as V grows: an update
touches only the message's own words.
"""

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from chat.trending import TrendingWindow  # noqa: E402

LETTERS = "abcdefghijklmnopqrstuvwxyzñ"


def words(n: int, rng: random.Random, prefix: str) -> list[str]:
    out = set()
    while len(out) < n:
        out.add(prefix + "".join(rng.choice(LETTERS) for _ in range(rng.randint(5, 9))))
    return sorted(out)


def measure(size: int, rounds: int, per_round: int) -> dict:
    rng = random.Random(size)
    vocab = words(size, rng, "v")
    fresh = words(5000, rng, "f")
    capacity = size + rounds * per_round * 12 + 1000
    window = TrendingWindow(window=600, max_tokens=capacity, max_words_per_sender=capacity,
                            max_uses=4 * capacity)
    for i in range(0, size, 50):
        window.add(" ".join(vocab[i:i + 50]), now=0.0, sender=f"filler{i}")
    assert len(window) == size
    messages = [
        " ".join(rng.choice(vocab) for _ in range(6)) + " " + " ".join(rng.choice(fresh) for _ in range(6))
        for _ in range(per_round)
    ]
    add_us, top_us = [], []
    now = 1.0
    ops0 = window.operations
    for _ in range(rounds):
        t0 = time.perf_counter()
        for n, text in enumerate(messages):
            now += 0.001
            window.add(text, now=now, sender=f"sender{n % 100}")
        add_us.append((time.perf_counter() - t0) / per_round * 1e6)
        t0 = time.perf_counter()
        for _ in range(100):
            window.top(now=now)
        top_us.append((time.perf_counter() - t0) / 100 * 1e6)
    return {
        "vocabulary": size,
        "words_in_window_after": len(window),
        "add_us_per_message": round(statistics.median(add_us), 2),
        "top30_us": round(statistics.median(top_us), 2),
        # dict/heap operations per add() (top() pops are counted apart in `operations`
        # too, so this is an upper bound for the update alone)
        "operations_per_call": round((window.operations - ops0) / (rounds * (per_round + 100)), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=2000)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    results = [measure(int(s), args.rounds, args.per_round) for s in args.sizes.split(",")]
    for row in results:
        print(json.dumps(row))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
