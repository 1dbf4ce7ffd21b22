"""A test's own Redis, PostgreSQL and RabbitMQ, listening on one address.

The machine's services listen on 127.0.0.1, which a process in another network
namespace cannot reach (tests/netns.py). These start private instances bound
to the address a test names (the test network's gateway), on a free port, with
their files in a temporary folder; each is a context manager that yields the
URL and stops the instance and removes its files afterwards, whatever happens.

    with own_services.redis(bind=addr) as redis: ...       # redis.url: redis://addr:port/0
    with own_services.postgres(bind=addr, trust=net) as pg: ...  # postgres://postgres@addr:port/votemap
    with own_services.rabbitmq(bind=addr) as mq: ...       # amqp://guest:guest@addr:port//

Each yields a `Service`: its URL and the pid of its server process (whose
process tree is the whole server: PostgreSQL's sessions are its children).

Each needs its server installed (Debian's redis-server, postgresql-15 and
rabbitmq-server); `missing()` names what is not, for a skip message.
PostgreSQL refuses to run as root, so root runs it as the `postgres` user
(`subprocess.Popen(user=...)`, which keeps the server's own pid for the test
to stop, where `runuser` would sit in between); anyone else runs it as
themselves. None of them keeps data that outlives the test: no fsync
(unless asked), Redis without persistence. A run killed before its teardown
(SIGKILL) leaves its servers running: the next start of any of them kills
those and deletes their folders (`remove_stale`; folder names carry the
owner's pid). The benchmarks (bench/cluster/run.py) use them too, on
127.0.0.1, so that the CPU they measure for PostgreSQL and the queue is the
site's alone.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # the real script, not Debian's su wrapper
EPMD = shutil.which("epmd") or next(iter(sorted(glob.glob("/usr/lib/erlang/erts-*/bin/epmd"))), "epmd")


@dataclass(frozen=True)
class Service:
    url: str
    pid: int


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def missing(*, queue: str = "redis") -> str | None:
    """None when PostgreSQL and `queue` ("redis" or "rabbitmq") can run here; else what is missing."""
    if postgres_bin() is None:
        return "PostgreSQL's server binaries (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "the postgres user (apt-get install postgresql)"
    if queue == "redis" and not os.access(REDIS_SERVER, os.X_OK):
        return "redis-server (apt-get install redis-server)"
    if queue == "rabbitmq" and not (os.access(RABBITMQ_SERVER, os.X_OK) and os.access(EPMD, os.X_OK)):
        return "rabbitmq-server (apt-get install rabbitmq-server)"
    return None


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def wait_for_port(address: str, port: int, *, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{proc.args[0]} is not listening on {address}:{port}:\n{_tail(log)}") from None
            time.sleep(0.1)


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-3000:]
    except OSError:
        return "(no log)"


def stop(proc: subprocess.Popen, *, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    """`sig` to the process (and its group, started with start_new_session), then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever it left in its group
    if proc.poll() is None:
        proc.wait(5)


FOLDER_PREFIX = "votemap-service-"
GROUPS_FILE = "process-groups"  # one process group a line, each a server (with its children) to kill


def remove_stale() -> None:
    """Kill the servers and delete the folders that runs which died without
    their teardown (SIGKILL) left: folders named votemap-service-<pid>-... of a
    pid that is gone."""
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
        try:
            owner = int(folder.name[len(FOLDER_PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        if owner == os.getpid() or Path(f"/proc/{owner}").exists():
            continue
        groups = folder / GROUPS_FILE
        for line in (groups.read_text().split() if groups.exists() else []):
            with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
                os.killpg(int(line), signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)


def _started(folder: Path, proc: subprocess.Popen) -> subprocess.Popen:
    """Note a server started with start_new_session (its pid is its group) for remove_stale."""
    with open(folder / GROUPS_FILE, "a") as groups:
        groups.write(f"{proc.pid}\n")
    return proc


@contextlib.contextmanager
def _folder(prefix: str, owner: str | None = None) -> Iterator[Path]:
    remove_stale()
    folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-{prefix}"))
    try:
        if owner:
            entry = pwd.getpwnam(owner)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def redis(*, bind: str) -> Iterator[Service]:
    """A Redis of its own on `bind`; its URL (database 0)."""
    with _folder("redis-") as folder:
        port = free_port(bind)
        log = folder / "redis.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [REDIS_SERVER, "--bind", bind, "--port", str(port), "--save", "", "--appendonly", "no",
                 "--protected-mode", "no", "--dir", str(folder), "--daemonize", "no"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _started(folder, proc)
        try:
            wait_for_port(bind, port, proc=proc, log=log)
            yield Service(url=f"redis://{bind}:{port}/0", pid=proc.pid)
        finally:
            stop(proc)


@contextlib.contextmanager
def postgres(*, bind: str, trust: str, database: str = "votemap", durable: bool = False) -> Iterator[Service]:
    """A PostgreSQL cluster of its own on `bind`, trusting clients from the
    network `trust` (CIDR); the URL of its database `database`. Tests run it
    without fsync; `durable=True` keeps PostgreSQL's defaults (a commit waits
    for its WAL flush), as the benchmarks need to measure a real commit."""
    binaries = postgres_bin()
    assert binaries is not None, missing()
    # PostgreSQL refuses to run as root: root runs it as the postgres user, anyone else as themselves.
    user = "postgres" if os.geteuid() == 0 else None
    with _folder("pg-", owner=user) as folder:
        data, log = folder / "data", folder / "postgres.log"
        subprocess.run([binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync",
                        "-E", "UTF8", "--locale=C.UTF-8"],
                       user=user, cwd=folder, capture_output=True, check=True, timeout=120)
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {trust} trust\n")
        port = free_port(bind)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [binaries / "postgres", "-D", data, "-c", f"listen_addresses={bind}", "-p", str(port),
                 "-c", f"unix_socket_directories={folder}", "-c", "max_connections=200",
                 *([] if durable else ["-c", "fsync=off", "-c", "synchronous_commit=off",
                                       "-c", "full_page_writes=off"])],
                user=user, cwd=folder, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _started(folder, proc)
        try:
            wait_for_port(bind, port, proc=proc, log=log)
            deadline = time.monotonic() + 30
            created = None
            while created is None or created.returncode != 0:
                # accepting TCP connections is not yet accepting sessions
                if time.monotonic() > deadline:
                    raise RuntimeError(f"createdb failed: {created.stderr if created else ''}\n{_tail(log)}")
                created = subprocess.run(
                    [binaries / "createdb", "-h", bind, "-p", str(port), "-U", "postgres", database],
                    user=user, cwd=folder, capture_output=True, text=True, timeout=30)
                if created.returncode != 0:
                    time.sleep(0.2)
            yield Service(url=f"postgres://postgres@{bind}:{port}/{database}", pid=proc.pid)
        finally:
            # SIGINT: PostgreSQL's fast shutdown (sessions are ended, nothing to keep).
            stop(proc, sig=signal.SIGINT)


@contextlib.contextmanager
def rabbitmq(*, bind: str) -> Iterator[Service]:
    """A RabbitMQ node of its own on `bind` (guest/guest, allowed from other
    addresses), with an epmd of its own so nothing outlives it; its URL."""
    with _folder("rabbitmq-") as folder:
        port, epmd_port, dist_port = free_port(bind), free_port("127.0.0.1"), free_port("127.0.0.1")
        log = folder / "rabbitmq.log"
        (folder / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's node name and addresses
        (folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = {bind}:{port}\n"
            # guest may log in from loopback only by default; the workers are on other hosts
            "loopback_users = none\n")
        (folder / "enabled_plugins").write_text("[].\n")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder),  # the Erlang cookie
            "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            "RABBITMQ_NODENAME": f"votemap{os.getpid()}{port}@localhost",
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"), "RABBITMQ_LOG_BASE": str(folder / "log"),
            "RABBITMQ_PID_FILE": str(folder / "rabbitmq.pid"),
            "RABBITMQ_DIST_PORT": str(dist_port), "ERL_EPMD_PORT": str(epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        with open(log, "wb") as out:
            epmd = subprocess.Popen([EPMD, "-port", str(epmd_port), "-address", "127.0.0.1"], env=env,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            _started(folder, epmd)
            proc = None
            try:
                wait_for_port("127.0.0.1", epmd_port, proc=epmd, log=log)
                proc = subprocess.Popen([RABBITMQ_SERVER], env=env, cwd=folder, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
                _started(folder, proc)
                wait_for_port(bind, port, proc=proc, log=log, timeout=90)
                yield Service(url=f"amqp://guest:guest@{bind}:{port}//", pid=proc.pid)
            finally:
                if proc is not None:
                    stop(proc, timeout=30)
                stop(epmd)
