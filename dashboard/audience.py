"""How the map's timing adapts to the size of its audience (pure functions).

Every `votes` delta and every `viewers` push is one socket write per
connection of this worker (votemap_site/realtime/broadcast.py writes one
pre-built frame each: about 6-7 µs per write on one core, almost all of it the
write system call). Twenty deltas a second are nothing for 1,000 viewers and
the whole core for 5,000, so:

- `tick_for_audience`: the tick (group commit and delta) grows with this
  worker's connections once their fan-out would take more than a set share of
  each tick, and never beyond `ceiling`, the longest tick that still keeps the
  vote-to-last-viewer p99 in budget (a vote waits at most one tick, then its
  commit and one fan-out). Fewer, larger deltas: versions stay gap-free (one
  per committed batch), only their number per second falls.
- `viewers_due`: a changed viewer count is pushed at once after a quiet spell,
  then at most once per `min_interval` (a join storm changes the count on
  every tick; pushing each change to everyone costs one write per viewer per
  tick, quadratic in the storm).
"""

import math


def tick_for_audience(connections: int, *, base: float, per_connection: float, ceiling: float) -> float:
    """Seconds between group commits for `connections` on this worker.

    `base` (DASHBOARD_TICK_MS) up to the audience where a tick's fan-out
    (`connections * per_connection` seconds) would exceed it, then that long,
    and never more than `ceiling` (nor less than `base`)."""
    if not (base > 0 and math.isfinite(base)):
        raise ValueError("base must be a positive number of seconds")
    ceiling = max(base, ceiling)
    wanted = max(0, connections) * max(0.0, per_connection)
    return min(ceiling, max(base, wanted))


def viewers_due(*, count: int, sent: int | None, now: float, sent_at: float, min_interval: float) -> bool:
    """Whether the viewer count `count` should be pushed now (`sent` was pushed at `sent_at`)."""
    if count == sent:
        return False
    return sent is None or now - sent_at >= min_interval
