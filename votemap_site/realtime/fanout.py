"""How long a group commit's tick is, given the fan-out it pays for (a pure function).

Every broadcast is one socket write per recipient connection of this worker
(broadcast.py writes one pre-built frame each, or all the frames a connection
gets within one loop iteration joined: about 6-7 µs per write on one core,
almost all of it the write system call). An app that broadcasts once per
tick (the map's delta, the chat's committed batch) therefore pays its
fan-out once per tick, whatever the tick carries; a longer tick carries more
changes per write. Both the map (dashboard/audience.py) and the chat
(chat/sockets.py) size their tick with this one function:

- `tick_for_audience`: `base` until the fan-out of one tick (`connections *
  per_connection` seconds) would take longer than that, then as long as the
  fan-out, and never beyond `ceiling`, the longest tick that still keeps the
  app's p99 in budget (a change waits at most one tick, then its commit and
  one fan-out).
"""

import math


def tick_for_audience(connections: int, *, base: float, per_connection: float, ceiling: float) -> float:
    """Seconds between group commits whose fan-out reaches `connections` on this worker.

    `base` up to the audience where a tick's fan-out (`connections *
    per_connection` seconds) would exceed it, then that long, and never more
    than `ceiling` (nor less than `base`)."""
    if not (base > 0 and math.isfinite(base)):
        raise ValueError("base must be a positive number of seconds")
    ceiling = max(base, ceiling)
    wanted = max(0, connections) * max(0.0, per_connection)
    return min(ceiling, max(base, wanted))
