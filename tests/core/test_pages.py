"""Landing page, sessions, CSP, i18n and /healthz over HTTP."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_landing_links_the_three_apps_and_sets_a_session(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for href in ('href="/map/"', 'href="/chat/"', 'href="/game/"'):
        assert href in html
    assert 'id="connection-badge"' in html
    assert "sessionid" in response.cookies  # identity for the realtime server


def test_content_security_policy_allows_only_own_scripts(client: Client) -> None:
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in response.content.decode()  # no inline scripts


def test_spanish_is_chosen_from_the_browser_language(client: Client) -> None:
    html = client.get("/", headers={"accept-language": "es-ES,es;q=0.9"}).content.decode()
    assert 'lang="es"' in html
    assert "Mapa de votos" in html
    english = client.get("/", headers={"accept-language": "en-US"}).content.decode()
    assert "Vote map" in english


def test_javascript_catalog_has_spanish(client: Client) -> None:
    js = client.get("/jsi18n/", headers={"accept-language": "es"}).content.decode()
    assert "reconectando" in js


def test_healthz_ok(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"


def test_healthz_503_when_the_message_queue_is_down(client: Client, settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["message_queue"].startswith("failed")


def test_healthz_503_when_the_database_is_down(client: Client, monkeypatch) -> None:
    from django.db.backends.sqlite3.base import DatabaseWrapper

    def broken(self, *args, **kwargs):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(DatabaseWrapper, "create_cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("failed")


def test_healthz_503_when_rabbitmq_is_down(client: Client, settings) -> None:
    settings.MESSAGE_QUEUE_URL = "amqp://guest:guest@127.0.0.1:1//"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["message_queue"].startswith("failed")


def test_healthz_checks_rabbitmq_when_configured(client: Client, settings, rabbitmq_url) -> None:
    settings.MESSAGE_QUEUE_URL = rabbitmq_url
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["message_queue"] == "ok"


def test_healthz_checks_redis_when_configured(client: Client, settings, redis_url) -> None:
    settings.REDIS_URL = redis_url
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["message_queue"] == "ok"
