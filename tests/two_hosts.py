"""The site on hosts of a test's own: one worker per network namespace, behind nginx.

    with two_hosts.site(queue="redis", folder=tmp) as site:
        site.url                 # nginx, in the root namespace, on the gateway address
        site.workers[0].url      # the worker on host 0, http://10.X.Y.2:8000
        site.env                 # the workers' settings (DATABASE_URL, queue, ...)

Everything the workers use is reached over the test network (tests/netns.py):
PostgreSQL and the queue are instances of the test's own bound to the gateway
address (tests/own_services.py), nginx balances to the workers' addresses with
the site file deploy/nginx/votemap.conf as scripts/cluster.py renders it. Both
workers listen on port 8000, each in its own namespace, as two machines would.
`queue="redis"` runs Redis (fan-out, counts, locks); `queue="rabbitmq"` runs
RabbitMQ and no Redis (counts and locks in PostgreSQL), the two kinds the
`message_queue` fixture covers on one machine.

The hosts answer only to their network names: DJANGO_ALLOWED_HOSTS lists the
gateway and worker addresses (the Socket.IO Origin check compares a browser's
Origin with that Host), and FORWARDED_ALLOW_IPS trusts nginx's address for
X-Forwarded-For. `skip_unless_possible()` skips (fails under CI) with what is
missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests import netns, own_services
from tests.conftest import ROOT, child_environment, migrate_database, need

WORKER_PORT = 8000

_spec = importlib.util.spec_from_file_location("votemap_cluster_script", ROOT / "scripts" / "cluster.py")
cluster = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cluster)


def skip_unless_possible(*, queue: str) -> None:
    reason = netns.unavailable()
    need(reason is None, f"creating network namespaces for the two-host tests ({reason})")
    need(cluster.nginx_binary() is not None, "nginx (apt-get install nginx)")
    gap = own_services.missing(queue=queue)
    need(gap is None, f"{gap}, for the test's own services")


@dataclass
class Worker:
    """A worker on a host; the same face as tests/conftest.py's ServerProcess
    (url, port, proc, log_path, stop, kill), so that a cluster test can take either."""

    host: netns.Host
    proc: subprocess.Popen
    log_path: Path
    port: int = WORKER_PORT

    @property
    def url(self) -> str:
        return f"http://{self.host.address}:{self.port}"

    def stop(self) -> None:
        # `ip netns exec` execs the server: this is uvicorn's pid (graceful stop on SIGTERM).
        own_services.stop(self.proc, timeout=15)

    def kill(self) -> None:
        own_services.stop(self.proc, sig=signal.SIGKILL, timeout=10)


@dataclass
class Site:
    network: netns.Network
    url: str  # nginx
    env: dict[str, str]
    workers: list[Worker] = field(default_factory=list)


def healthz(url: str, *, timeout: float = 2) -> dict | None:
    """/healthz's JSON, or None while it does not answer 200."""
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=timeout) as resp:
            return json.load(resp) if resp.status == 200 else None
    except (OSError, ValueError):
        return None


def start_worker(host: netns.Host, *, env: dict[str, str], log_path: Path) -> Worker:
    """`python -m votemap_site.serve` on `host`, listening on its address; waits for /healthz."""
    proc = host.popen([sys.executable, "-m", "votemap_site.serve", "--host", host.address,
                       "--port", str(WORKER_PORT), "--log-level", "warning"],
                      env=child_environment(env), log_path=log_path, cwd=ROOT)
    worker = Worker(host=host, proc=proc, log_path=log_path)
    deadline = time.monotonic() + 60
    while healthz(worker.url) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            raise RuntimeError(f"the worker on {host.address} did not become healthy:\n"
                               f"{log_path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
    return worker


@contextlib.contextmanager
def site(*, queue: str, folder: Path, hosts: int = 2,
         extra_env: dict[str, str] | None = None) -> Iterator[Site]:
    """PostgreSQL + `queue` on the gateway, a worker per host, nginx in front; all stopped afterwards."""
    with contextlib.ExitStack() as stack:
        net = stack.enter_context(netns.network(hosts=hosts))
        database = stack.enter_context(own_services.postgres(bind=net.gateway, trust=str(net.subnet))).url
        if queue == "redis":
            queue_env = {"REDIS_URL": stack.enter_context(own_services.redis(bind=net.gateway)).url}
        elif queue == "rabbitmq":
            rabbitmq = stack.enter_context(own_services.rabbitmq(bind=net.gateway))
            queue_env = {"MESSAGE_QUEUE_URL": rabbitmq.url}
        else:
            raise ValueError(f"queue must be redis or rabbitmq, not {queue!r}")
        env = {
            "DATABASE_URL": database, **queue_env,
            "SOCKETIO_TRANSPORTS": "websocket",  # nginx is not sticky (scripts/cluster.py)
            "SOCKETIO_REDIS_CHANNEL": f"votemap-hosts-{os.getpid()}-{uuid.uuid4().hex[:8]}",
            "DJANGO_ALLOWED_HOSTS": ",".join(net.addresses),
            "FORWARDED_ALLOW_IPS": net.gateway,
            "PRESENCE_HEARTBEAT_SECONDS": "1",
            **(extra_env or {}),
        }
        migrate_database(env)
        nginx_port = own_services.free_port(net.gateway)
        conf = cluster.write_nginx_files(folder / "nginx", cluster.render_site(
            listen=f"{net.gateway}:{nginx_port}",
            upstreams=[f"{host.address}:{WORKER_PORT}" for host in net.hosts],
            static_root=ROOT / "staticfiles"))
        checked = cluster.nginx_test(conf)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx refuses the site file:\n{checked.stderr}")
        built = Site(network=net, url=f"http://{net.gateway}:{nginx_port}", env=env)
        for index, host in enumerate(net.hosts):
            worker = start_worker(host, env=env, log_path=folder / f"worker{index}.log")
            stack.callback(worker.stop)
            built.workers.append(worker)
        with open(folder / "nginx.log", "wb") as log:
            nginx = subprocess.Popen(cluster.nginx_command(conf, "-g", "daemon off;"), stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        stack.callback(own_services.stop, nginx)
        own_services.wait_for_port(net.gateway, nginx_port, proc=nginx, log=folder / "nginx.log")
        yield built
