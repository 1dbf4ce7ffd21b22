"""Hosts of a test's own: Linux network namespaces on a bridge, so that what
crosses a network between the site's processes really does.

    with netns.network(hosts=2) as net:
        net.gateway            # 10.X.Y.1, the root namespace on the bridge
        net.hosts[0].address   # 10.X.Y.2, inside namespace vmtest-<pid>-<token>-0
        proc = net.hosts[0].popen([...], env=..., log_path=...)

`network()` picks a 10.X.Y.0/24 subnet that nothing on the machine uses,
creates a bridge in the root namespace holding its first address and, per
host, a namespace with a veth pair: one end on the bridge, the other (`eth0`,
the next address) inside the namespace, which has no other route. A process
started on a host sees only its own loopback and the test network: the
machine's services on 127.0.0.1 are out of its reach, so a worker that talks
to PostgreSQL or the queue does it over the veth link (tests/own_services.py
runs instances bound to the gateway address).

Teardown always runs (the context manager's `finally`): every process still in
a namespace is killed, the namespaces and the bridge are deleted (deleting a
namespace deletes its veth end, and with it the pair). Names carry the test
process's pid, so a run that was killed (SIGKILL, a power cut) leaves nothing
for long: the next `network()` removes namespaces whose pid is dead.

Creating namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and the
`ip` tool; `unavailable()` says why it cannot, for a skip message.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

IP = shutil.which("ip") or "/usr/sbin/ip"
PREFIX = "vmtest"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([IP, *args], capture_output=True, text=True, timeout=30, check=check)


def unavailable() -> str | None:
    """None when this process can create network namespaces and veth pairs; else why not (short)."""
    if not os.path.exists("/proc/self/ns/net"):
        return "not Linux"
    if not os.access(IP, os.X_OK):
        return f"no {IP} (apt-get install iproute2)"
    if os.geteuid() != 0:
        return "needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN)"
    probe = f"{PREFIX}-probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"ip netns add: {made.stderr.strip()}"
    try:
        link = f"vmp{uuid.uuid4().hex[:8]}"
        veth = _ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", probe, check=False)
        if veth.returncode != 0:
            return f"ip link add type veth: {veth.stderr.strip()}"
        _ip("link", "del", link, check=False)
    finally:
        _ip("netns", "del", probe, check=False)
    return None


@dataclass(frozen=True)
class Host:
    """One namespace: a machine of its own on the test network."""

    namespace: str
    address: str

    def command(self, argv: list[str]) -> list[str]:
        """`argv` run inside this host's namespace (`ip netns exec` execs it: same pid)."""
        return [IP, "netns", "exec", self.namespace, *argv]

    def popen(self, argv: list[str], *, env: dict[str, str], log_path: Path, cwd: Path | None = None,
              ) -> subprocess.Popen:
        """Start `argv` on this host, in a process group of its own (stop it with os.killpg)."""
        log = open(log_path, "ab")
        try:
            return subprocess.Popen(self.command(argv), cwd=cwd, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()  # the child has its own copy of the descriptor

    def pids(self) -> list[int]:
        """Every process running in this namespace."""
        listed = _ip("netns", "pids", self.namespace, check=False)
        return [int(pid) for pid in listed.stdout.split()]


@dataclass
class Network:
    subnet: ipaddress.IPv4Network
    gateway: str  # the root namespace's address on the bridge: where services listen
    bridge: str
    hosts: list[Host] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        return [self.gateway, *(host.address for host in self.hosts)]


def _used_networks() -> list[ipaddress.IPv4Network]:
    text = _ip("-4", "-o", "addr", "show").stdout + _ip("-4", "route", "show", "table", "all").stdout
    found = re.findall(r"(\d+\.\d+\.\d+\.\d+(?:/\d+)?)", text)
    return [ipaddress.ip_network(item, strict=False) for item in found]


def _free_subnet() -> ipaddress.IPv4Network:
    used = _used_networks()
    for _ in range(200):
        candidate = ipaddress.ip_network(f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0/24")
        if not any(candidate.overlaps(net) for net in used):
            return candidate
    raise RuntimeError("no free 10.x.y.0/24 subnet for the test network")


def _kill_all(pids: list[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            try:
                os.kill(pid, sig)
                alive.append(pid)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in alive if _exists(pid)]
            time.sleep(0.05)
        if not alive:
            return
        pids = alive


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (already dead, its parent not waiting yet) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _delete(namespaces: list[str], bridge: str | None) -> None:
    for namespace in namespaces:
        listed = _ip("netns", "pids", namespace, check=False)
        _kill_all([int(pid) for pid in listed.stdout.split()])
        _ip("netns", "del", namespace, check=False)
    if bridge:
        _ip("link", "del", bridge, check=False)


def remove_stale() -> None:
    """Delete what runs that died without their teardown left: namespaces named
    vmtest-<pid>-<token>-<n> whose pid is gone, and their bridge vmb<token>."""
    listed = _ip("netns", "list", check=False).stdout
    for line in listed.splitlines():
        match = re.match(rf"({PREFIX}-(\d+)-([0-9a-f]{{6}})-\d+)\b", line)
        if match and not _exists(int(match.group(2))):
            _delete([match.group(1)], f"vmb{match.group(3)}")


@contextlib.contextmanager
def network(*, hosts: int = 2) -> Iterator[Network]:
    """`hosts` namespaces on a bridge of their own; all deleted afterwards, whatever happens."""
    remove_stale()
    token = uuid.uuid4().hex[:6]
    subnet = _free_subnet()
    addresses = [str(address) for address in subnet.hosts()]
    net = Network(subnet=subnet, gateway=addresses[0], bridge=f"vmb{token}")
    namespaces: list[str] = []
    try:
        try:
            _build(net, namespaces, hosts=hosts, token=token, addresses=addresses)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"{' '.join(exc.cmd)} failed: {exc.stderr}") from exc
        yield net
    finally:
        _delete(namespaces, net.bridge)


def _build(net: Network, namespaces: list[str], *, hosts: int, token: str, addresses: list[str]) -> None:
    prefixlen = net.subnet.prefixlen
    # Interface names are at most 15 characters: vmb + 6, vmv + 6 + index.
    _ip("link", "add", net.bridge, "type", "bridge", "forward_delay", "0")
    _ip("addr", "add", f"{net.gateway}/{prefixlen}", "dev", net.bridge)
    _ip("link", "set", net.bridge, "up")
    for index in range(hosts):
        namespace = f"{PREFIX}-{os.getpid()}-{token}-{index}"
        _ip("netns", "add", namespace)
        namespaces.append(namespace)  # deleted by the caller's finally from here on
        link = f"vmv{token}{index}"
        _ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("link", "set", link, "master", net.bridge, "up")
        address = addresses[index + 1]
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", namespace, "addr", "add", f"{address}/{prefixlen}", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        net.hosts.append(Host(namespace=namespace, address=address))
