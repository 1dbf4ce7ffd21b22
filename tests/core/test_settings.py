"""Settings come from the environment; production refuses to start without a secret."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, redirects_state

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "False",
    "DJANGO_SECRET_KEY": "a-long-production-secret-" + "k3y" * 20,
    "DJANGO_ALLOWED_HOSTS": "votes.example.org",
    "DJANGO_SECURE_SSL_REDIRECT": "True",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "True",
    "DJANGO_SECURE_HSTS_PRELOAD": "True",
    "DJANGO_SECURE_COOKIES": "True",
    "DJANGO_BEHIND_TLS_PROXY": "True",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not redirects_state(k)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env={**clean, "DJANGO_ENV_FILE": "", **env}, capture_output=True, text=True, timeout=120,
    )


def test_refuses_to_start_without_secret_key_when_debug_is_off() -> None:
    result = run_manage("check", env={"DJANGO_DEBUG": "False"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_mode_runs_without_a_secret() -> None:
    result = run_manage("check", env={"DJANGO_DEBUG": "True"})
    assert result.returncode == 0, result.stderr


def test_deploy_check_passes_with_production_variables() -> None:
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_check_fails_with_local_defaults() -> None:
    # The check is real: the local defaults (no HTTPS redirect, no HSTS) fail it.
    env = {"DJANGO_DEBUG": "False", "DJANGO_SECRET_KEY": PRODUCTION_ENV["DJANGO_SECRET_KEY"]}
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0


def test_database_url_switches_to_postgresql() -> None:
    code = (
        "import django, os; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'])"
    )
    clean = {k: v for k, v in os.environ.items() if not redirects_state(k)}
    env = {**clean, "DJANGO_ENV_FILE": "", "DJANGO_DEBUG": "True", "DJANGO_SETTINGS_MODULE": "votemap_site.settings",
           "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/votemap"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "django.db.backends.postgresql", out.stderr


@pytest.mark.django_db
def test_sqlite_default_is_wal_with_immediate_transactions(settings) -> None:
    from django.db import connection

    options = settings.DATABASES["default"]["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert options["timeout"] >= 5
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
