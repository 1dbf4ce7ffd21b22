"""Crash safety: kill -9 the server during a burst of votes; every acked vote is counted exactly once.

Clients behave like the map page: every vote has a `vote_id`, and a vote whose
ack did not arrive (timeout, lost connection) is sent again with the same id
after reconnecting. The server runs as a subprocess on a file SQLite database.
"""

import asyncio
import sqlite3
import uuid
from collections import Counter

import pytest
import socketio

from tests.conftest import migrate_database, start_server_process

NS = "/map-dashboard"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CODES = ["28", "08", "41", "46", "35", "15"]


class Voter:
    def __init__(self, votes: list[tuple[str, str]]) -> None:
        self.votes = votes  # (vote_id, province)
        self.acked: dict[str, int] = {}  # vote_id -> count in its ack
        self.failures = 0
        # Every version this voter was shown, in order: (event, version) for acks, snapshots and deltas.
        self.versions: list[tuple[str, int]] = []

    async def send_all(self, url: str, *, window: int = 8, stop_on_failure: bool = False) -> None:
        client = socketio.AsyncClient(reconnection=False)

        async def on_snapshot(data):
            self.versions.append(("snapshot", data["version"]))

        async def on_votes(data):
            self.versions.append(("votes", data["version"]))

        client.on("snapshot", on_snapshot, namespace=NS)
        client.on("votes", on_votes, namespace=NS)
        try:
            await client.connect(url, namespaces=[NS], transports=["websocket"], wait_timeout=10)
        except Exception:
            self.failures += 1
            return
        todo = [v for v in self.votes if v[0] not in self.acked]
        try:
            for start in range(0, len(todo), window):
                chunk = todo[start : start + window]
                results = await asyncio.gather(
                    *[client.call("vote", {"province": code, "direction": "up", "vote_id": vote_id},
                                  namespace=NS, timeout=3) for vote_id, code in chunk],
                    return_exceptions=True,
                )
                for (vote_id, _), ack in zip(chunk, results, strict=True):
                    if isinstance(ack, dict) and ack.get("ok"):
                        self.acked[vote_id] = ack["data"]["votes"]
                        self.versions.append(("ack", ack["data"]["version"]))
                    else:
                        self.failures += 1
                if stop_on_failure and any(not isinstance(a, dict) for a in results):
                    return
        finally:
            try:
                await asyncio.wait_for(client.disconnect(), 3)
            except Exception:
                pass


def database_votes(path) -> tuple[Counter, dict[str, int], set[str]]:
    with sqlite3.connect(path) as conn:
        per_province = Counter(dict(conn.execute(
            "SELECT province_id, COUNT(*) FROM dashboard_vote GROUP BY province_id").fetchall()))
        counters = dict(conn.execute("SELECT code, votes FROM dashboard_province").fetchall())
        ids = {str(uuid.UUID(row[0])) for row in conn.execute("SELECT vote_id FROM dashboard_vote")}
    return per_province, counters, ids


async def test_kill_9_during_a_burst_loses_and_doubles_nothing(tmp_path):
    db_path = tmp_path / "crash.sqlite3"
    env = {"SQLITE_PATH": str(db_path), "DASHBOARD_VOTE_RATE": "5000", "DASHBOARD_VOTE_BURST": "5000",
           "DASHBOARD_TICK_MS": "20"}
    await asyncio.to_thread(migrate_database, env)
    log_path = tmp_path / "server.log"
    server = await asyncio.to_thread(start_server_process, env=env, log_path=log_path)
    voters = [
        Voter([(str(uuid.uuid4()), CODES[(i + n) % len(CODES)]) for i in range(400)]) for n in range(5)
    ]
    try:
        burst = [asyncio.ensure_future(v.send_all(server.url, stop_on_failure=True)) for v in voters]
        # Kill the server once a good part of the burst has been acked, while votes are in flight.
        while sum(len(v.acked) for v in voters) < 300:
            assert not all(t.done() for t in burst), "the burst ended before the kill"
            await asyncio.sleep(0.01)
        await asyncio.to_thread(server.kill)
        await asyncio.gather(*burst)
        acked_before_crash = {vote_id for v in voters for vote_id in v.acked}
        total = sum(len(v.votes) for v in voters)
        assert 300 <= len(acked_before_crash) < total

        # Every acked vote is already durable, before any retry.
        _, _, ids_after_crash = database_votes(db_path)
        assert acked_before_crash <= ids_after_crash

        before_crash = max(version for v in voters for _, version in v.versions)
        seen_before = {id(v): len(v.versions) for v in voters}
        server = await asyncio.to_thread(start_server_process, env=env, log_path=log_path)
        # Retry what was not acked (same ids), and also re-send some acked ones.
        for v in voters:
            for vote_id in list(v.acked)[:20]:
                del v.acked[vote_id]
        await asyncio.gather(*[v.send_all(server.url) for v in voters])
        assert all(len(v.acked) == len(v.votes) for v in voters)

        # The version sequence goes on across the restart: the first snapshot after it is at
        # least the last version seen before (the batches committed but not acked may add to
        # it), and every delta sent after it is above every version seen before the crash.
        for v in voters:
            after = v.versions[seen_before[id(v)]:]
            assert after and after[0][0] == "snapshot", after[:3]
            assert after[0][1] >= before_crash
            deltas = [version for event, version in after if event == "votes"]
            assert deltas and min(deltas) > before_crash, (before_crash, deltas[:5])
            acks = [version for event, version in after if event == "ack"]
            assert acks and min(acks) >= after[0][1]

        per_province, counters, ids = database_votes(db_path)
        sent = {vote_id for v in voters for vote_id, _ in v.votes}
        assert ids == sent  # nothing lost, nothing invented
        assert sum(per_province.values()) == total  # vote_id is unique: nothing doubled
        expected = Counter(code for v in voters for _, code in v.votes)
        assert per_province == expected
        # Only "up" votes, so each counter equals its vote rows exactly.
        assert {code: counters[code] for code in expected} == dict(expected)
        assert sum(counters.values()) == total
        # An ack never reports fewer votes than were counted when it was sent... and never more than exist.
        assert all(0 < count <= expected[code] for v in voters for (vid, code) in v.votes
                   for count in [v.acked[vid]])
    finally:
        server.stop()
