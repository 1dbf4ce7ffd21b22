import asyncio, time, statistics, uuid
import pytest, socketio
from tests.conftest import start_server_process

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(300)]
NS = "/grid-game"

@pytest.fixture
def workers(fresh_postgres_database, message_queue, tmp_path):
    tag = uuid.uuid4().hex[:8]
    env = {"DATABASE_URL": fresh_postgres_database, **message_queue, "SOCKETIO_TRANSPORTS": "websocket",
           "GAME_ANONYMOUS_SEATS": "64", "REDIS_KEY_PREFIX": f"vmlat{tag}:", "SOCKETIO_REDIS_CHANNEL": f"lat-{tag}",
           "GAME_MOVE_RATE": "50", "GAME_MOVE_BURST": "50"}
    ws = [start_server_process(env=env, log_path=tmp_path / f"w{i}.log") for i in range(2)]
    yield ws
    for w in ws: w.stop()

async def test_latency(workers):
    n, seconds, rate = 8, 20, 5.0
    clients, ids, where = [], [], []
    pending = {}  # mover idx -> (expected x, t_send, k)
    samples = {"same": [], "other": []}
    acks = {"owner": [], "forwarded": []}
    seen = {}
    def handler(w):
        def on_state(data):
            now = time.perf_counter()
            pos = {p["id"]: p["x"] for p in data["players"]}
            for m, (ex, t0, k) in list(pending.items()):
                if m == w or (w, m, k) in seen: continue
                if pos.get(ids[m]) == ex:
                    seen[(w, m, k)] = True
                    samples["same" if where[m] == where[w] else "other"].append(now - t0)
        return on_state
    for i in range(n):
        c = socketio.AsyncClient(reconnection=False)
        c.on("state", handler(i), namespace=NS)
        url = workers[i % 2].url
        await c.connect(url, namespaces=[NS], transports=["websocket"], wait_timeout=10)
        ack = await c.call("join_game", {"arena": "main"}, namespace=NS, timeout=10)
        assert ack["ok"], ack
        clients.append(c); ids.append(ack["data"]["you"]["id"]); where.append(i % 2)
    await asyncio.sleep(1)
    x0 = {}
    async def mover(m):
        c = clients[m]
        ack = await c.call("move", {"direction": "up", "seq": 0}, namespace=NS, timeout=10)
        x = ack["data"]["x"]; first = "left" if x > 0 else "right"
        k = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            k += 1
            d = first if k % 2 else ("right" if first == "left" else "left")
            ex = x - 1 if d == "left" else x + 1
            if k % 2 == 0: ex = x
            t0 = time.perf_counter()
            pending[m] = (ex if k % 2 else x, t0, k)
            a = await c.call("move", {"direction": d, "seq": k}, namespace=NS, timeout=10)
            assert a["ok"], a
            acks["owner" if where[m] == owner_side else "forwarded"].append(time.perf_counter() - t0)
            if where[m] != owner_side and time.perf_counter() - t0 > 0.1: print("slow ack", m, k, round(t0 - start, 2), round(time.perf_counter() - t0, 3))
            await asyncio.sleep(max(0, 1 / rate - (time.perf_counter() - t0)))
    # owner: the worker of the first client
    owner_side = 0
    await asyncio.gather(*(mover(m) for m in range(n)))
    await asyncio.sleep(0.5)
    for name, xs in {**samples, **{"ack-" + k: v for k, v in acks.items()}}.items():
        xs = sorted(xs)
        if xs:
            print(f"{name}: n={len(xs)} p50={1000*xs[len(xs)//2]:.1f}ms p99={1000*xs[int(len(xs)*0.99)]:.1f}ms max={1000*xs[-1]:.1f}ms")
    for c in clients: await c.disconnect()
