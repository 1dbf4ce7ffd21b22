"""The suite sees the same configuration on every machine.

The test process reads tests/test.env, never the developer's .env; servers,
migrations and browser scripts started by tests inherit no site setting from
the developer's environment (a DATABASE_URL left in a shell must not send the
crash test's server to another database).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, child_environment, migrate_database, redirects_state, start_server_process

SETTINGS_FILE = ROOT / "votemap_site" / "settings.py"
TEST_ENV_FILE = ROOT / "tests" / "test.env"

BOGUS = {
    "DATABASE_URL": "postgres://nobody@127.0.0.1:9/not_a_database",
    "REDIS_URL": "redis://127.0.0.1:9/0",
    "MESSAGE_QUEUE_URL": "amqp://nobody@127.0.0.1:9/",
    "SQLITE_PATH": "/nonexistent/votemap/db.sqlite3",
    "SOCKETIO_TRANSPORTS": "carrier-pigeon",  # settings refuse to start with it
    "SOCKETIO_REDIS_CHANNEL": "someone-elses-channel",
    "PGHOST": "203.0.113.1",
}


def _env_file_value(path: Path, name: str) -> str:
    for line in path.read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
    raise LookupError(name)


def _settings_variables() -> set[str]:
    source = SETTINGS_FILE.read_text()
    return set(re.findall(r'(?:env\.\w+|_env_list)\(\s*"([A-Z][A-Z0-9_]*)"', source))


def test_the_test_process_reads_tests_env_not_the_developers(settings) -> None:
    if "DJANGO_ENV_FILE" in os.environ:
        pytest.skip("DJANGO_ENV_FILE is set in this environment on purpose")
    assert Path(settings.ENV_FILE) == TEST_ENV_FILE
    if "DJANGO_SECRET_KEY" not in os.environ:
        assert settings.SECRET_KEY == _env_file_value(TEST_ENV_FILE, "DJANGO_SECRET_KEY")


@pytest.mark.parametrize("under_pytest", [True, False], ids=["under-pytest", "outside-pytest"])
def test_settings_read_dot_env_only_outside_pytest(tmp_path, under_pytest) -> None:
    """The real settings.py in a project folder whose .env points elsewhere."""
    (tmp_path / "votemap_site").mkdir()
    (tmp_path / "votemap_site" / "__init__.py").write_text("")
    shutil.copy(SETTINGS_FILE, tmp_path / "votemap_site" / "settings.py")
    (tmp_path / "tests").mkdir()
    shutil.copy(TEST_ENV_FILE, tmp_path / "tests" / "test.env")
    (tmp_path / ".env").write_text(
        f"DATABASE_URL={BOGUS['DATABASE_URL']}\nREDIS_URL={BOGUS['REDIS_URL']}\n"
        "DJANGO_SECRET_KEY=the-developers-own-secret-key-from-dot-env-0123456789\n"
    )
    env = {name: value for name, value in os.environ.items() if not redirects_state(name)}
    env["PYTHONPATH"] = str(tmp_path)
    if under_pytest:
        env["PYTEST_VERSION"] = "9"
    code = ("import json; from votemap_site import settings as s; "
            "print(json.dumps([s.DATABASES['default']['ENGINE'], s.REDIS_URL, s.SECRET_KEY]))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    engine, redis_url, secret = json.loads(proc.stdout.splitlines()[-1])
    if under_pytest:
        assert (engine, redis_url) == ("django.db.backends.sqlite3", "")
        assert secret == _env_file_value(TEST_ENV_FILE, "DJANGO_SECRET_KEY")
    else:  # the control: the same .env is read by `make run`
        assert (engine, redis_url) == ("django.db.backends.postgresql", BOGUS["REDIS_URL"])
        assert secret.startswith("the-developers-own-secret")


def test_every_variable_settings_read_is_kept_from_child_processes(monkeypatch) -> None:
    names = _settings_variables()
    assert {"DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "SOCKETIO_TRANSPORTS", "DJANGO_ENV_FILE"} <= names
    assert not sorted(name for name in names if not redirects_state(name))
    for name in [*names, *BOGUS]:
        monkeypatch.setenv(name, "from-the-developers-shell")
    monkeypatch.setenv("UNRELATED_TOOL_SETTING", "kept")
    env = child_environment({"REDIS_URL": "redis://chosen-by-the-test/0"})
    leaked = sorted(name for name, value in env.items() if value == "from-the-developers-shell")
    assert leaked == []
    assert env["REDIS_URL"] == "redis://chosen-by-the-test/0"  # what a test passes wins
    assert env["DJANGO_ENV_FILE"] == ""  # no .env of any kind
    assert env["UNRELATED_TOOL_SETTING"] == "kept"
    assert "PYTEST_VERSION" not in env  # a server behaves as in production


@pytest.mark.slow
def test_a_bogus_database_url_in_the_environment_never_reaches_a_server(tmp_path, monkeypatch) -> None:
    for name, value in BOGUS.items():
        monkeypatch.setenv(name, value)
    db_path = tmp_path / "db.sqlite3"
    env = {"SQLITE_PATH": str(db_path)}
    migrate_database(env)  # would fail on the bogus DATABASE_URL or SOCKETIO_TRANSPORTS
    assert db_path.stat().st_size > 0
    server = start_server_process(env=env, log_path=tmp_path / "server.log")
    try:
        raw = Path(f"/proc/{server.proc.pid}/environ").read_bytes()
        seen = dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
        assert not sorted(name for name, value in BOGUS.items() if seen.get(name) == value)
        assert seen["SQLITE_PATH"] == str(db_path)
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=10) as resp:
            checks = json.loads(resp.read())["checks"]
        assert checks == {"database": "ok", "message_queue": "not configured"}
    finally:
        server.stop()
