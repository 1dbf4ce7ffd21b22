"""The grid game's cluster checks with each worker on a host of its own (tests/two_hosts.py):
one arena across the hosts, and a takeover when the owner's host loses its worker (SIGKILL).

The checks are tests/grid_game/test_cluster.py's; only where the workers run differs: each in a
network namespace, reaching PostgreSQL and the queue (the test's own) over veth links.
"""

import contextlib

import pytest

from tests import two_hosts
from tests.grid_game.test_cluster import Store, _takeover, close, join_eight, moves_cross_processes, worker_of

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(params=["redis", "rabbitmq"])
def cluster(request, tmp_path):
    """test_cluster.py's factory of two workers and their lease store, on two hosts."""
    two_hosts.skip_unless_possible(queue=request.param)
    with contextlib.ExitStack() as stack:

        def start(**settings: str):
            env = {"GAME_ANONYMOUS_SEATS": "16", "GAME_LEASE_SECONDS": "3", "GAME_PEER_TIMEOUT_SECONDS": "3",
                   "GAME_CHECKPOINT_SECONDS": "0.5", "REDIS_KEY_PREFIX": "vmgame:", **settings}
            site = stack.enter_context(two_hosts.site(queue=request.param, folder=tmp_path, extra_env=env))
            return site.workers, Store(site.env)

        yield start


async def test_players_on_two_hosts_share_one_arena(cluster) -> None:
    workers, store = cluster()
    players = await join_eight(workers)
    try:
        owner = worker_of(workers, store.owner())
        # Moves cross the hosts both ways (the owner's and the other host's clients).
        await moves_cross_processes(players, owner)
    finally:
        await close(players)


async def test_killed_owner_on_another_host_is_taken_over(cluster) -> None:
    await _takeover(cluster, stop="kill")
