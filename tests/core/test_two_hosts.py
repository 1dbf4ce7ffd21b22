"""Two hosts: the cluster checks with each worker in a network namespace of its own.

tests/core/test_cluster.py and the scale-out tests run every process on one
loopback interface; here each worker is on a host of its own (tests/netns.py),
reaching PostgreSQL and the queue (the test's own instances, on the root
namespace's address) and being reached by nginx and the clients over veth
links, each test once with Redis and once with RabbitMQ without Redis.
What these add: the workers' settings work with real addresses (allowed hosts,
origins, forwarded addresses), and nothing silently relies on 127.0.0.1,
which inside a namespace is the host's own loopback with nothing on it.
"""

import asyncio
import time
import uuid

import pytest
import socketio

from tests import two_hosts

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(240)]
MAP, CHAT = "/map-dashboard", "/chat"


@pytest.fixture(scope="module", params=["redis", "rabbitmq"])
def site(request, tmp_path_factory):
    two_hosts.skip_unless_possible(queue=request.param)
    folder = tmp_path_factory.mktemp(f"two-hosts-{request.param}")
    with two_hosts.site(queue=request.param, folder=folder,
                        extra_env={"DASHBOARD_VOTE_RATE": "5000", "DASHBOARD_VOTE_BURST": "5000"}) as built:
        yield built


class Client:
    """A python-socketio client that keeps every event of its namespace, in order."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, dict]] = []
        self.sio.on("*", self._on_any, namespace=namespace)

    async def _on_any(self, event, data=None):
        self.events.append((event, data))

    def of(self, event: str) -> list[dict]:
        return [data for name, data in self.events if name == event]

    async def connect(self, url: str, *, origin: str | None = None) -> "Client":
        # A browser sends its page's origin, which the site compares with the Host it was reached by.
        await self.sio.connect(url, namespaces=[self.namespace], transports=["websocket"], wait_timeout=10,
                               headers={"Origin": origin or url})
        return self

    async def call(self, event: str, data: dict) -> dict:
        return await self.sio.call(event, data, namespace=self.namespace, timeout=10)

    async def wait_for(self, predicate, what: str, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while not (found := predicate()):
            assert time.monotonic() < deadline, f"{what}; last events: {self.events[-5:]}"
            await asyncio.sleep(0.02)
        return found

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.sio.disconnect(), 5)
        except Exception:
            pass


def viewers_shown(client: Client) -> list[int]:
    return [data["viewers"] if name == "snapshot" else data["count"]
            for name, data in client.events if name in ("snapshot", "viewers")]


def test_health_pages_and_origins_on_the_network_addresses(site) -> None:
    import urllib.error
    import urllib.request

    # Through nginx and on each host, the database and the queue are reached over the network.
    for url in [site.url, *(worker.url for worker in site.workers)]:
        body = two_hosts.healthz(url, timeout=5)
        assert body is not None, url
        assert body["checks"] == {"database": "ok", "message_queue": "ok"}, (url, body)
    with urllib.request.urlopen(site.url + "/", timeout=5) as resp:
        assert resp.status == 200
    # The hosts answer to their own names only (DJANGO_ALLOWED_HOSTS), not to a forged Host.
    forged = urllib.request.Request(site.workers[0].url + "/", headers={"Host": "evil.example"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=5)
    assert refused.value.code == 400


async def test_a_page_of_one_host_cannot_open_a_socket_on_the_other(site) -> None:
    a, b = site.workers
    # The same origin check that lets each host's own pages in refuses another origin.
    accepted = await Client(MAP).connect(b.url, origin=b.url)
    await accepted.close()
    stranger = Client(MAP)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await stranger.connect(b.url, origin=a.url)
    await stranger.close()


async def test_votes_through_one_host_reach_the_viewers_of_the_other(site) -> None:
    a, b = site.workers
    viewers = [Client(MAP), Client(MAP), Client(MAP)]
    try:
        # One viewer through nginx (either host), one on each host directly.
        for client, url in zip(viewers, [site.url, a.url, b.url], strict=True):
            await client.connect(url)
        # `viewers` is the total over both hosts.
        for client in viewers:
            await client.wait_for(lambda client=client: 3 in viewers_shown(client), "3 viewers shown")
        start = viewers[0].of("snapshot")[0]["version"]
        assert all(client.of("snapshot")[0]["version"] == start for client in viewers)

        on_a, on_b = viewers[1], viewers[2]
        ack = await on_a.call("vote", {"province": "28", "direction": "up"})
        assert ack["ok"] and ack["data"] == {"province": "28", "votes": 1, "version": start + 1}, ack
        await on_b.wait_for(lambda: {"version": start + 1, "counts": {"28": 1}} in on_b.of("votes"),
                            "host A's vote on host B")

        # Both hosts voting at once: one gap-free, strictly increasing version sequence, the same everywhere.
        async def vote(client: Client, code: str) -> dict:
            ack = await client.call("vote", {"province": code, "direction": "up",
                                             "vote_id": str(uuid.uuid4())})
            assert ack["ok"], ack
            return ack["data"]

        acks = await asyncio.gather(*[vote(on_a, "08") for _ in range(25)],
                                    *[vote(on_b, "46") for _ in range(25)])
        last = max(ack["version"] for ack in acks)
        # (votes that arrive together share a batch, hence a version)
        assert {ack["version"] for ack in acks} <= set(range(start + 2, last + 1))
        for client in viewers:
            await client.wait_for(lambda client=client: any(d["version"] == last for d in client.of("votes")),
                                  f"version {last}")
        versions = [delta["version"] for delta in viewers[0].of("votes")]
        assert versions == list(range(start + 1, last + 1))
        assert all(client.of("votes") == viewers[0].of("votes") for client in viewers[1:])
        merged: dict[str, int] = {}
        for delta in viewers[0].of("votes"):
            merged.update(delta["counts"])
        assert merged == {"28": 1, "08": 25, "46": 25}

        # A viewer leaving host B is counted out on host A.
        await on_b.close()
        await on_a.wait_for(lambda: viewers_shown(on_a)[-1] == 2, "2 viewers after one left")
    finally:
        for client in viewers:
            await client.close()


async def test_chat_messages_and_members_cross_the_hosts(site) -> None:
    a, b = site.workers
    alice, bob = Client(CHAT), Client(CHAT)
    try:
        await alice.connect(a.url)
        await bob.connect(b.url)
        room = "cats"  # a room of the initial data
        assert (await alice.call("join", {"room": room, "nickname": "Alice"}))["ok"]
        assert (await bob.call("join", {"room": room, "nickname": "Bob"}))["ok"]
        for client in (alice, bob):
            await client.wait_for(lambda client=client: any(m["count"] == 2 for m in client.of("members")),
                                  "2 members")
        sent = await alice.call("send_message", {"room": room, "text": "hola desde A"})
        assert sent["ok"], sent
        await bob.wait_for(lambda: sent["data"]["message"] in bob.of("message"), "A's message on B")
        back = await bob.call("send_message", {"room": room, "text": "y desde B"})
        assert back["ok"], back
        await alice.wait_for(lambda: back["data"]["message"] in alice.of("message"), "B's message on A")
        await bob.close()
        await alice.wait_for(lambda: alice.of("members")[-1]["count"] == 1, "1 member after Bob left")
    finally:
        for client in (alice, bob):
            await client.close()
