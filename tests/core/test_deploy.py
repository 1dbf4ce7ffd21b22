"""The production files under deploy/: the systemd unit and the environment file
are the ones docs/deployment.md shows, and they work (the nginx site is tested
through scripts/cluster.py in test_cluster.py)."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, need, redirects_state

UNIT = ROOT / "deploy" / "systemd" / "votemap@.service"
ENV_FILE = ROOT / "deploy" / "votemap.env.example"
# Where the unit expects the checkout and the environment file on the server.
SERVER_ROOT = "/srv/votemap"
SERVER_ENV_FILE = "/etc/votemap/votemap.env"

# A test value for every <placeholder> of the environment file.
PLACEHOLDERS = {
    "DJANGO_SECRET_KEY": "a-production-like-secret-" + "s3cr3t" * 10,
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://127.0.0.1",
    "DATABASE_URL": "postgres://votemap:password@127.0.0.1:5432/votemap",
    "METRICS_TOKEN": "a-metrics-token-" + "m" * 30,
}


def environment_file(**overrides: str) -> dict[str, str]:
    """deploy/votemap.env.example as systemd reads it, placeholders filled in."""
    values: dict[str, str] = {}
    for number, line in enumerate(ENV_FILE.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        # Kept to what systemd's EnvironmentFile= and django-environ read alike.
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=([^\s'\"#]*)", line)
        assert match, f"{ENV_FILE.name}:{number}: not a plain KEY=value line: {line!r}"
        name, value = match.groups()
        assert name not in values, f"{name} is set twice"
        if value.startswith("<"):
            assert value.endswith(">") and name in PLACEHOLDERS, f"{name}: placeholder without a test value"
            value = PLACEHOLDERS[name]
        values[name] = value
    return {**values, **overrides}


def unit_sections() -> dict[str, dict[str, list[str]]]:
    """section -> key -> its values in order (systemd allows a key several times)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for number, line in enumerate(UNIT.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"{UNIT.name}:{number}: keep each setting on one line"
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, sep, value = line.partition("=")
        assert current is not None and sep, f"{UNIT.name}:{number}: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def service() -> dict[str, str]:
    """[Service] with the last value of each key (what systemd uses for single-valued keys)."""
    return {key: values[-1] for key, values in unit_sections()["Service"].items()}


def unit_environment() -> dict[str, str]:
    lines = unit_sections()["Service"].get("Environment", [])
    return dict(item.split("=", 1) for line in lines for item in line.split())


def test_the_environment_file_passes_check_deploy(tmp_path) -> None:
    """Exactly the file's settings (the metrics folder moved to a temporary one,
    since the check imports the URLs and so the metrics module, which makes it)."""
    env = environment_file(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    inherited = {k: v for k, v in os.environ.items() if not redirects_state(k)}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env={**inherited, **env}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    # The check is real: without HSTS the same file fails it.
    weaker = {**inherited, **env, "DJANGO_SECURE_HSTS_SECONDS": "0"}
    failed = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=weaker, capture_output=True, text=True, timeout=120)
    assert failed.returncode != 0 and "security.W004" in failed.stdout + failed.stderr


def test_the_environment_file_is_production_like() -> None:
    env = environment_file()
    assert env["DJANGO_DEBUG"] == "False" and env["LOG_FORMAT"] == "json"
    assert env["DJANGO_BEHIND_TLS_PROXY"] == env["DJANGO_SECURE_COOKIES"] == "True"
    assert env["DJANGO_ENV_FILE"] == ""  # no .env of the checkout mixes in
    assert env["PROMETHEUS_MULTIPROC_DIR"] == unit_environment()["PROMETHEUS_MULTIPROC_DIR"]
    assert env["METRICS_TOKEN"] and (env["REDIS_URL"] or env["MESSAGE_QUEUE_URL"])


def test_the_unit_runs_the_site_unprivileged_with_the_environment_file() -> None:
    unit_service = service()
    assert unit_service["User"] not in {"", "root", "0"} and unit_service["Group"] not in {"", "root", "0"}
    assert unit_service["EnvironmentFile"] == SERVER_ENV_FILE
    assert unit_service["WorkingDirectory"] == SERVER_ROOT
    command = unit_service["ExecStart"].split()
    assert command[0] == f"{SERVER_ROOT}/.venv/bin/python" and command[1:3] == ["-m", "votemap_site.serve"]
    assert importlib.util.find_spec(command[2]) is not None  # the module exists
    assert command[3:] == ["--host", "127.0.0.1", "--port", "%i"]
    assert unit_service["Restart"] == "on-failure"
    for key, expected in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                          "ProtectHome": "yes", "CapabilityBoundingSet": ""}.items():
        assert unit_service.get(key) == expected, key
    # The metrics folder is in the unit's runtime directory, which stays while
    # another instance still writes to it.
    metrics_dir = unit_environment()["PROMETHEUS_MULTIPROC_DIR"]
    assert metrics_dir.startswith(f"/run/{unit_service['RuntimeDirectory']}/")
    assert unit_service["RuntimeDirectoryPreserve"] == "yes"
    assert any(metrics_dir.startswith(path + "/") for path in unit_service["ReadWritePaths"].split())


def _unit_for_this_machine(tmp_path: Path) -> Path:
    """The unit with the checkout and the environment file where they are here
    (systemd-analyze checks that the command exists)."""
    env_file = tmp_path / "votemap.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in environment_file().items()))
    text = UNIT.read_text().replace(SERVER_ENV_FILE, str(env_file))
    text = text.replace(f"{SERVER_ROOT}/.venv/bin/python", sys.executable).replace(SERVER_ROOT, str(ROOT))
    path = tmp_path / "votemap@8001.service"
    path.write_text(text)
    return path


def test_the_unit_passes_systemd_analyze(tmp_path) -> None:
    need(shutil.which("systemd-analyze") is not None, "systemd-analyze (systemd)")
    path = _unit_for_this_machine(tmp_path)
    verified = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True,
                              timeout=60)
    # It exits 0 on unknown keys and bad values too, with a line that says so.
    assert verified.returncode == 0 and not (verified.stdout + verified.stderr).strip(), verified.stderr
    # Exposure 0 (locked down) to 10 (root, everything allowed); 2.0 at most.
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=20", str(path)],
                              capture_output=True, text=True, timeout=60)
    assert security.returncode == 0, security.stdout[-2000:]
    # ...and a broken line does show.
    path.write_text(path.read_text().replace("ProtectSystem=strict", "ProtectSystem=very"))
    broken = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert "very" in broken.stdout + broken.stderr


@pytest.mark.services
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_units_command_with_the_environment_file_serves_the_site(fresh_postgres_database, redis_url,
                                                                      tmp_path) -> None:
    """ExecStart as systemd runs it (the port for %i), with exactly the
    environment file's variables: a worker that answers /healthz over plain
    HTTP (a balancer's check; every other page redirects to https) and logs
    JSON lines."""
    port = free_port()
    command = [sys.executable if part == f"{SERVER_ROOT}/.venv/bin/python" else part.replace("%i", str(port))
               for part in service()["ExecStart"].split()]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           **environment_file(DATABASE_URL=fresh_postgres_database, REDIS_URL=redis_url,
                              PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
                              SOCKETIO_REDIS_CHANNEL=f"votemap-test-{os.getpid()}-unit",
                              REDIS_KEY_PREFIX=f"vmtest{os.getpid()}unit:"),
           **unit_environment(), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 40
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    assert json.load(resp)["status"] == "ok"
                    break
            except OSError:
                time.sleep(0.2)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirected:
            opener.open(f"http://127.0.0.1:{port}/", timeout=5)
        assert redirected.value.code == 301
        assert redirected.value.headers["Location"] == f"https://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(20)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines, "the worker logged nothing"
    records = [json.loads(line) for line in lines]  # uvicorn's lines too
    assert any(record["logger"].startswith("uvicorn") for record in records)
