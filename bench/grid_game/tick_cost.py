"""The tick loop's own cost per arena, without network: CPU time per tick.

Drives the real engine (grid_game/engine.py and the pure rules) in one
process: every simulated tick, each player moves with probability rate/hz,
then the arena's tick work runs (next tick, state payload) and the payload is
JSON-encoded once (what a client manager does per broadcast). CPU time
(time.process_time), so a busy machine slows it less than wall-clock figures.
`plain_packet_us` is the tick's state as a plain dict plus python-socketio's
packet encoding of it (what the client manager did per broadcast before);
`shared_packet_us` the same state as the engine now emits it to this
process's clients (`ArenaRuntime.state_broadcast`, each player's JSON cached)
plus `SharedPayload.encoded`: the same bytes.

    .venv/bin/python -m bench.grid_game.tick_cost --players 8 256 --ticks 2000
"""

import argparse
import asyncio
import json
import random
import time

from socketio import packet as sio_packet

from grid_game.engine import ArenaInfo, Engine


async def measure(players: int, ticks: int, rate: float, hz: float) -> dict:
    side = 20 if players <= 64 else 32
    height = 10 if players <= 64 else 32
    info = ArenaInfo(id=1, slug="bench", name="bench", width=side, height=height, max_players=10_000,
                     coins=3 if players <= 64 else 10, is_open=True, revision=1)

    async def noop(*args, **kwargs):
        return None

    async def load(slug):
        return info

    async def top(arena_id):
        return []

    async def record(arena_id, entries):
        return False

    async def revisions(slugs):
        return {}

    engine = Engine(emit=noop, load_arena=load, load_revisions=revisions, record_scores=record,
                    top_scores=top, hz=hz, rng_seed="bench")
    for i in range(players):
        await engine.join(sid=f"s{i}", seat_key=f"k{i}", player_id=f"{i:016x}", slug="bench",
                          name=f"bot{i}", spectate=False)
    await engine.stop()  # the measurement drives the tick work by hand
    arena = engine.arenas["bench"]
    rng = random.Random(1)
    probability = rate / hz
    sids = [f"s{i}" for i in range(players)]
    directions = ["up", "down", "left", "right"]
    move_cpu = tick_cpu = encode_cpu = plain_cpu = shared_cpu = 0.0
    moves = 0
    size = 0
    for _ in range(ticks):
        t0 = time.process_time()
        for sid in sids:
            if rng.random() < probability:
                engine.move(sid=sid, direction=rng.choice(directions), seq=1)
                moves += 1
        t1 = time.process_time()
        arena.dirty = False
        arena.next_tick()
        payload = arena.state_payload()
        t2 = time.process_time()
        text = json.dumps(["state", payload], separators=(",", ":"))
        t3 = time.process_time()
        plain = sio_packet.Packet(sio_packet.EVENT, namespace="/grid-game",
                                  data=["state", arena.state_payload()]).encode()
        t4 = time.process_time()
        shared = arena.state_broadcast().encoded(sio_packet.Packet, "/grid-game", "state")
        t5 = time.process_time()
        assert shared == plain
        move_cpu += t1 - t0
        tick_cpu += t2 - t1
        encode_cpu += t3 - t2
        plain_cpu += t4 - t3
        shared_cpu += t5 - t4
        size = len(text)
    return {
        "players": players,
        "ticks": ticks,
        "move_us": round(1e6 * move_cpu / max(1, moves), 2),
        "tick_work_us": round(1e6 * tick_cpu / ticks, 1),
        "json_encode_us": round(1e6 * encode_cpu / ticks, 1),
        "plain_packet_us": round(1e6 * plain_cpu / ticks, 1),
        "shared_packet_us": round(1e6 * shared_cpu / ticks, 1),
        "state_bytes": size,
        "core_share_per_arena_at_hz": round((tick_cpu + encode_cpu) / ticks * hz, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--players", type=int, nargs="+", default=[8, 64, 256, 384])
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--hz", type=float, default=20.0)
    args = parser.parse_args()
    for players in args.players:
        print(json.dumps(asyncio.run(measure(players, args.ticks, args.rate, args.hz))))


if __name__ == "__main__":
    main()
