"""`make cluster`: several site workers behind nginx, as one site, in the foreground.

    python scripts/cluster.py check
    python scripts/cluster.py run --workers 2 --host 127.0.0.1 --port 8000
    python scripts/cluster.py run ... --tls-certificate cert.pem --tls-certificate-key key.pem \
        --http-port 8080
    python scripts/cluster.py render --listen 80 --upstream 127.0.0.1:8001 --upstream 127.0.0.1:8002
    python scripts/cluster.py render --listen 443 --tls-certificate /etc/ssl/... --tls-certificate-key ... ...

`run` starts WORKERS `python -m votemap_site.serve` processes on PORT+1 ...
PORT+WORKERS (127.0.0.1, WebSocket only) and Debian's nginx on HOST:PORT with
the site file deploy/nginx/votemap.conf, rendered with those ports into a
temporary folder that also holds nginx's pid file and temporary files (nothing
under /etc is read or written besides mime.types). It stays in the foreground
and on Ctrl-C or SIGTERM stops every process it started (SIGTERM, then SIGKILL
to whatever is left after STOP_SECONDS); when one of them exits on its own it
stops the others too and exits non-zero. The workers share a fresh metrics
folder in it (PROMETHEUS_MULTIPROC_DIR), which /metrics on any of them adds up.
With a certificate, nginx serves https on PORT and redirects plain HTTP on
--http-port to it (TLS at the proxy, as in production).

`render` prints the site file for other ports and names (production: put it
in /etc/nginx/sites-enabled/; docs/deployment.md).
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "votemap.conf"
# uvicorn's graceful shutdown is 5 s (votemap_site/serve.py); past this, SIGKILL.
STOP_SECONDS = 10.0
# WebSocket only: a long-polling session must reach the worker that created
# it, and nginx's affinity follows the session cookie, which a login renews
# (docs/deployment.md, "Several processes").
WORKER_SETTINGS = {"SOCKETIO_TRANSPORTS": "websocket"}


# ----- the site file --------------------------------------------------------
TLS_LINE = "#tls "
# Django's default, which settings.py keeps (SESSION_COOKIE_NAME).
SESSION_COOKIE = "sessionid"


class Tls(NamedTuple):
    """TLS at the proxy: nginx's certificate (chain) and key files, and the
    plain-HTTP address that redirects to https. (A NamedTuple, not a
    dataclass: tests load this script by path, without a sys.modules entry,
    which dataclasses need.)"""

    certificate: str | Path
    certificate_key: str | Path
    http_listen: str = "80"


def _port_of(listen: str) -> str:
    match = re.match(r"^(?:\[[^\]]*\]:|[^\s:]+:)?(\d+)", listen.strip())
    return match.group(1) if match else "443"


def render_site(*, listen: str, upstreams: list[str], static_root: str | Path, server_name: str = "_",
                tls: Tls | None = None, session_cookie: str = SESSION_COOKIE,
                template: Path = TEMPLATE) -> str:
    """deploy/nginx/votemap.conf with its @NAME@ fields filled in; with `tls`,
    its `#tls ` lines kept (https on `listen`, a redirect on `tls.http_listen`),
    else dropped."""
    if not upstreams:
        raise ValueError("at least one upstream (host:port) is needed")
    values = [listen, server_name, str(static_root), *upstreams]
    if tls is not None:
        values += [str(tls.certificate), str(tls.certificate_key), tls.http_listen]
    for value in values:
        if re.search(r"[;{}\n#]", value):
            raise ValueError(f"{value!r} would break the nginx syntax")
    if not re.fullmatch(r"[A-Za-z0-9_]+", session_cookie):
        raise ValueError(f"{session_cookie!r} cannot be part of an nginx variable name")
    if tls is not None and " ssl" not in f" {listen}":
        listen = f"{listen} ssl http2"
    fields = {
        "LISTEN": listen,
        "SERVER_NAME": server_name,
        "UPSTREAMS": "\n".join(f"    server {upstream};" for upstream in upstreams),
        "STATIC_ROOT": str(static_root).rstrip("/"),
        "SESSION_COOKIE": session_cookie,
    }
    if tls is not None:
        port = _port_of(listen)
        fields |= {
            "TLS_CERTIFICATE": str(tls.certificate),
            "TLS_CERTIFICATE_KEY": str(tls.certificate_key),
            "HTTP_LISTEN": tls.http_listen,
            "HTTPS_PORT": "" if port == "443" else f":{port}",
        }
    lines = template.read_text().splitlines(keepends=True)
    if tls is None:
        text = "".join(line for line in lines if not line.startswith(TLS_LINE))
    else:
        text = "".join(line[len(TLS_LINE):] if line.startswith(TLS_LINE) else line for line in lines)
    for name, value in fields.items():
        text = text.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ValueError(f"the template has fields nothing fills in: {sorted(set(left))}")
    return text


def main_config(prefix: Path, site: Path) -> str:
    """A whole nginx.conf that includes the site file and keeps every file it
    writes under `prefix` (so nginx runs without touching /etc or /var)."""
    temp = {name: prefix / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    # Started as root, nginx would run its workers as an unprivileged default
    # user that may not be able to read this checkout (a clone under a private
    # temporary folder, say): a local cluster's workers run as whoever started it.
    user = [f"user {pwd.getpwuid(os.geteuid()).pw_name};"] if os.geteuid() == 0 else []
    return "\n".join([
        "# Written by scripts/cluster.py; the site itself is in " + site.name + ".",
        *user,
        f"pid {prefix / 'nginx.pid'};",
        "error_log stderr warn;",
        "worker_processes auto;",
        # Two descriptors per proxied connection; the default soft limit (1024) is too low.
        "worker_rlimit_nofile 16384;",
        "events { worker_connections 4096; }",
        "http {",
        "    include /etc/nginx/mime.types;",
        "    default_type application/octet-stream;",
        "    access_log off;",
        "    sendfile on;",
        "    server_tokens off;",
        f"    client_body_temp_path {temp['client_body']};",
        f"    proxy_temp_path {temp['proxy']};",
        f"    fastcgi_temp_path {temp['fastcgi']};",
        f"    uwsgi_temp_path {temp['uwsgi']};",
        f"    scgi_temp_path {temp['scgi']};",
        f"    include {site};",
        "}",
        "",
    ])


def write_nginx_files(prefix: Path, site_text: str) -> Path:
    """Write the site file and the main config into `prefix`; the main config's path."""
    prefix.mkdir(parents=True, exist_ok=True)
    # nginx's worker processes run as another user when started by root.
    prefix.chmod(0o755)
    site = prefix / "votemap.conf"
    site.write_text(site_text)
    conf = prefix / "nginx.conf"
    conf.write_text(main_config(prefix, site))
    return conf


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def nginx_command(conf: Path, *extra: str) -> list[str]:
    binary = nginx_binary()
    if binary is None:
        raise FileNotFoundError("nginx is not installed (Debian: apt-get install -y nginx)")
    return [binary, "-e", "stderr", "-p", str(conf.parent), "-c", str(conf), *extra]


def nginx_test(conf: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the files written by write_nginx_files."""
    return subprocess.run(nginx_command(conf, "-t"), capture_output=True, text=True, timeout=30)


# ----- settings -----------------------------------------------------------
def check_settings() -> str | None:
    """None when the settings (environment, then .env) describe several processes
    that can work as one site; else what is missing."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "votemap_site.settings")
    try:
        from django.conf import settings

        engine = settings.DATABASES["default"]["ENGINE"]
        queue = settings.MESSAGE_QUEUE_URL or settings.REDIS_URL
    except Exception as exc:  # ImproperlyConfigured and friends: say it plainly
        return f"the settings are not usable: {exc}"
    missing = []
    if engine != "django.db.backends.postgresql":
        missing.append("DATABASE_URL=postgres://... (several processes cannot share SQLite)")
    if not queue:
        missing.append("REDIS_URL=redis://... or MESSAGE_QUEUE_URL=amqp://... "
                       "(the fan-out between processes)")
    if nginx_binary() is None:
        missing.append("nginx (Debian: apt-get install -y nginx)")
    if missing:
        return "make cluster needs, in the environment or .env:\n  " + "\n  ".join(missing)
    return None


# ----- the supervisor -------------------------------------------------------
def _die_with_parent() -> None:
    """In each child: SIGTERM when the supervisor dies, even by SIGKILL (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    # A session of its own: a Ctrl-C in the terminal reaches the supervisor
    # only, which stops the children in order, once.
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, preexec_fn=_die_with_parent)


def stop_all(children: list[subprocess.Popen]) -> None:
    """SIGTERM to every child still running, then SIGKILL to the process groups
    of those left after STOP_SECONDS (nginx's worker processes included)."""
    for child in children:
        if child.poll() is None:
            try:
                child.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for child in children:
        try:
            os.killpg(child.pid, signal.SIGKILL)  # its group: whatever it left behind too
        except (ProcessLookupError, PermissionError):
            pass
        if child.poll() is None:
            child.wait(5)


def run(*, workers: int, host: str, port: int, tls: Tls | None = None) -> int:
    problem = check_settings()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from django.conf import settings

    stopping: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    ports = [port + index for index in range(1, workers + 1)]
    prefix = Path(tempfile.mkdtemp(prefix="votemap-nginx-"))
    # A fresh folder for this run's metrics, shared by its workers (it must be
    # in their environment before they start: votemap_site/metrics.py).
    metrics_dir = prefix / "metrics"
    metrics_dir.mkdir()
    env = {**os.environ, **WORKER_SETTINGS, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    children: list[subprocess.Popen] = []
    status = 0

    def address(port: int | str) -> str:
        return f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"

    try:
        if tls is not None:
            tls = Tls(certificate=Path(tls.certificate).resolve(),
                      certificate_key=Path(tls.certificate_key).resolve(),
                      http_listen=address(tls.http_listen))
        conf = write_nginx_files(prefix, render_site(
            listen=address(port),
            upstreams=[f"127.0.0.1:{worker_port}" for worker_port in ports],
            static_root=settings.STATIC_ROOT,
            session_cookie=settings.SESSION_COOKIE_NAME,
            tls=tls,
        ))
        checked = nginx_test(conf)
        if checked.returncode != 0:
            print(f"nginx refuses the site file:\n{checked.stderr}", file=sys.stderr)
            return 1
        for worker_port in ports:
            children.append(_start([sys.executable, "-m", "votemap_site.serve", "--host", "127.0.0.1",
                                    "--port", str(worker_port)], env))
        # nginx only once every worker listens: a request it cannot pass on
        # marks that worker as failed for 10 s (max_fails, fail_timeout), and
        # the affinity hash would send its sessions elsewhere meanwhile.
        while not stopping and not all(_listening(worker_port) for worker_port in ports):
            if any(child.poll() is not None for child in children):
                break  # reported by the loop below
            time.sleep(0.1)
        if not stopping and all(child.poll() is None for child in children):
            children.append(_start(nginx_command(conf, "-g", "daemon off;"), env))
        scheme = "https" if tls else "http"
        print(f"votemap_site on {scheme}://{host}:{port}/ (nginx) -> {workers} workers on 127.0.0.1:"
              f"{ports[0]}-{ports[-1]}, WebSocket only; Ctrl-C stops everything", flush=True)
        while not stopping:
            exited = [child for child in children if child.poll() is not None]
            if exited:
                for child in exited:
                    command = " ".join(child.args[:4])
                    print(f"{command}... exited with {child.returncode}; stopping the others",
                          file=sys.stderr, flush=True)
                status = 1
                break
            time.sleep(0.2)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        stop_all(children)
        shutil.rmtree(prefix, ignore_errors=True)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/cluster.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="say what is missing for several processes")
    start = commands.add_parser("run", help="workers behind nginx, in the foreground")
    start.add_argument("--workers", type=int, default=2)
    start.add_argument("--host", default="127.0.0.1", help="nginx's address (the workers use 127.0.0.1)")
    start.add_argument("--port", type=int, default=8000, help="nginx's port; workers on the ports after it")
    start.add_argument("--tls-certificate", help="PEM certificate (chain): nginx serves https on --port")
    start.add_argument("--tls-certificate-key", help="its PEM private key")
    start.add_argument("--http-port", type=int, default=None,
                       help="with TLS: the plain HTTP port that redirects to https (required with TLS)")
    render = commands.add_parser("render", help="print the site file")
    render.add_argument("--listen", default="80")
    render.add_argument("--server-name", default="_")
    render.add_argument("--upstream", action="append", required=True, help="host:port of a worker (repeat)")
    render.add_argument("--static-root", default=str(ROOT / "staticfiles"))
    render.add_argument("--tls-certificate", help="PEM certificate (chain): https on --listen")
    render.add_argument("--tls-certificate-key", help="its PEM private key")
    render.add_argument("--http-listen", default="80", help="with TLS: plain HTTP that redirects to https")
    args = parser.parse_args(argv)
    if args.command in {"run", "render"} and bool(args.tls_certificate) != bool(args.tls_certificate_key):
        parser.error("--tls-certificate and --tls-certificate-key go together")
    if args.command == "check":
        problem = check_settings()
        if problem:
            print(problem, file=sys.stderr)
            return 2
        return 0
    if args.command == "run":
        if args.workers < 1:
            parser.error("--workers must be 1 or more")
        tls = None
        if args.tls_certificate:
            if args.http_port is None:
                parser.error("with TLS, --http-port is the plain HTTP port that redirects to https")
            tls = Tls(certificate=args.tls_certificate, certificate_key=args.tls_certificate_key,
                      http_listen=str(args.http_port))
        return run(workers=args.workers, host=args.host, port=args.port, tls=tls)
    tls = None
    if args.tls_certificate:
        tls = Tls(certificate=args.tls_certificate, certificate_key=args.tls_certificate_key,
                  http_listen=args.http_listen)
    print(render_site(listen=args.listen, upstreams=args.upstream, static_root=args.static_root,
                      server_name=args.server_name, tls=tls), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
