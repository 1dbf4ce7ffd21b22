"""How long one group commit of the map takes, one after the other (the site's serialised path).

    DATABASE_URL=postgres://... .venv/bin/python bench/cluster/commit_cost.py --json out.json

Calls `dashboard.services.vote_cast_batch` (the transaction a worker runs once
per tick: lock the state row, read, plan, write, commit) back to back from one
thread, for several batch sizes, against the database of DATABASE_URL (a
fresh copy of the site's; votes go to random provinces). Every batch locks
the state row from its first statement to its commit, so batches of all the
workers of a site run one at a time: the median time of one is the part of
the commit path that the database and the worker's own code take (the
commit-order lock and the publish come on top). Also counts the statements of
one batch (CaptureQueriesContext), each a round trip to the database, plus
the commit.

Prints (and writes) {"batch_seconds": {size: median}, "round_trips": n, ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if "PYTHONPATH" not in os.environ:  # else the checkout it names (bench/cluster/run.py --site-root)
    sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,5,20,100", help="votes per batch")
    parser.add_argument("--batches", type=int, default=150, help="batches per size")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "votemap_site.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dashboard.models import Province
    from dashboard.services import VoteRequest, vote_cast_batch

    codes = list(Province.objects.values_list("code", flat=True))

    def batch(size: int) -> list[VoteRequest]:
        return [VoteRequest(vote_id=uuid.uuid4(), province=random.choice(codes), direction="up")
                for _ in range(size)]

    vote_cast_batch(requests=batch(5))  # connection and caches warm
    with CaptureQueriesContext(connection) as queries:
        vote_cast_batch(requests=batch(5))
    result = {"round_trips": len(queries.captured_queries) + 1, "batch_seconds": {}, "batch_p90_seconds": {}}
    for size in [int(s) for s in args.sizes.split(",") if s]:
        times = []
        for _ in range(args.batches):
            requests = batch(size)
            start = time.perf_counter()
            vote_cast_batch(requests=requests)
            times.append(time.perf_counter() - start)
        times.sort()
        result["batch_seconds"][size] = round(statistics.median(times), 6)
        result["batch_p90_seconds"][size] = round(times[int(0.9 * len(times))], 6)
    text = json.dumps(result)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
