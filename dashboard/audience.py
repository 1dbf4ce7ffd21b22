"""How the map's timing adapts to the size of its audience (pure functions).

Every `votes` delta and every `viewers` push is one socket write per
connection of this worker (votemap_site/realtime/broadcast.py writes one
pre-built frame each: about 6-7 µs per write on one core, almost all of it the
write system call). Twenty deltas a second are nothing for 1,000 viewers and
the whole core for 5,000, so:

- `tick_for_audience` (votemap_site/realtime/fanout.py, shared with the
  chat): the tick (group commit and delta) grows with this
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

# The tick's length is shared with the chat: votemap_site/realtime/fanout.py.
from votemap_site.realtime.fanout import tick_for_audience

__all__ = ["tick_for_audience", "viewers_due"]


def viewers_due(*, count: int, sent: int | None, now: float, sent_at: float, min_interval: float) -> bool:
    """Whether the viewer count `count` should be pushed now (`sent` was pushed at `sent_at`)."""
    if count == sent:
        return False
    return sent is None or now - sent_at >= min_interval


def tick_during_joins(tick: float, *, joins_per_second: float, threshold: float, ceiling: float) -> float:
    """The tick while a room is connecting: `ceiling` when this worker saw at least
    `threshold` new connections in the last second (0 turns it off), else `tick`.

    Every delta costs one write per connection, so with the audience's tick the
    fan-out takes a fixed share of the core (its cost per write over
    DASHBOARD_TICK_PER_CONNECTION_US, about three quarters) and the joins of a
    storm get what is left, a few per cent. The longest tick that keeps p99 in
    budget during the storm leaves them most of the core; the watchers still
    get a delta every `ceiling` seconds, and the tick returns to the
    audience's once the storm is over."""
    if threshold > 0 and joins_per_second >= threshold:
        return max(tick, ceiling)
    return tick
