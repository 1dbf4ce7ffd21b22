"""/metrics: Prometheus metrics for staff or a bearer token, summed over processes;
structured (JSON) logs."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import socketio
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, child_environment, migrate_database, start_server_process
from votemap_site import metrics

TOKEN = "metrics-token-for-tests-" + "t" * 20


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """(sample name, labels) -> value of an exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


# ----- who may read it ---------------------------------------------------------
@pytest.fixture
def users(django_user_model):
    staff = django_user_model.objects.create_user("staff", password="pw-staff-1", is_staff=True)
    plain = django_user_model.objects.create_user("plain", password="pw-plain-1")
    return staff, plain


@pytest.mark.django_db
def test_staff_reads_metrics_and_others_get_a_bare_403(client, users) -> None:
    staff, plain = users
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 403 and anonymous.content == b""
    client.force_login(plain)
    refused = client.get("/metrics")
    assert refused.status_code == 403 and refused.content == b""
    client.force_login(staff)
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(answer.content.decode())}
    assert {"votemap_events", "votemap_ack_seconds", "votemap_tick_seconds"} <= names
    # A staff account that was deactivated is refused again.
    type(staff).objects.filter(pk=staff.pk).update(is_active=False)
    assert client.get("/metrics").status_code == 403


@pytest.mark.django_db
def test_a_bearer_token_from_the_settings_reads_metrics(client, settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and b"votemap_events" in ok.content
    for wrong in (TOKEN + "x", TOKEN[:-1], "", "Basic " + TOKEN):
        answer = client.get("/metrics", headers={"Authorization": f"Bearer {wrong}"})
        assert answer.status_code == 401 and answer.content == b"", wrong
    assert client.get("/metrics", headers={"Authorization": f"Token {TOKEN}"}).status_code == 403


@pytest.mark.django_db
def test_no_token_is_accepted_when_none_is_set(client, settings) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 401


# ----- what it counts ------------------------------------------------------------
def scrape_here() -> str:
    body, _ = metrics.scrape()
    return body.decode()


@pytest.mark.django_db(transaction=True)
async def test_events_acks_and_connections_are_counted(sio_client) -> None:
    from asgiref.sync import sync_to_async

    from dashboard.services import provinces_seed

    # An earlier transactional test may have flushed the seeded provinces.
    await sync_to_async(provinces_seed)()
    ns = "/map-dashboard"
    before = scrape_here()
    client = await sio_client(ns)
    await client.receive(timeout=5)  # the snapshot: connected
    assert value(scrape_here(), "votemap_connections", namespace=ns) == \
        value(before, "votemap_connections", namespace=ns) + 1
    assert (await client.call("no-such-event", {}, timeout=5))["error"]["code"] == "unknown_event"
    assert (await client.call("other-invented-name", {}, timeout=5))["error"]["code"] == "unknown_event"
    assert (await client.call("vote", {"province": "nowhere", "direction": "up"}, timeout=5))["ok"] is False
    assert (await client.call("vote", {"province": "28", "direction": "up"}, timeout=5))["ok"] is True
    after = scrape_here()

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Unknown names share one series: a client cannot create series.
    assert grew("votemap_events_total", namespace=ns, event="*unknown*", result="unknown_event") == 2
    assert not any(("event", "no-such-event") in labels for _, labels in samples(after))
    assert grew("votemap_events_total", namespace=ns, event="vote", result="ok") == 1
    assert grew("votemap_events_total", namespace=ns, event="vote", result="invalid") + \
        grew("votemap_events_total", namespace=ns, event="vote", result="not_found") == 1
    assert grew("votemap_ack_seconds_count", namespace=ns, event="vote") == 2
    assert grew("votemap_ack_seconds_count", namespace=ns, event="*unknown*") == 2
    assert grew("votemap_ack_seconds_bucket", namespace=ns, event="vote", le="+Inf") == 2

    await client.disconnect()
    for _ in range(100):
        if value(scrape_here(), "votemap_connections", namespace=ns) == value(before, "votemap_connections",
                                                                                 namespace=ns):
            break
        await asyncio.sleep(0.05)
    assert value(scrape_here(), "votemap_connections", namespace=ns) == \
        value(before, "votemap_connections", namespace=ns)


async def test_tick_durations_by_ticker_name_up_to_its_colon() -> None:
    from votemap_site.realtime.ticker import Ticker

    runs = []

    async def callback():
        runs.append(1)
        return Ticker.STOP if len(runs) in (3, 5) else None

    before = scrape_here()
    first = Ticker(name="metrics-test:a", interval=0.001, callback=callback, always=True)
    first.start()
    await asyncio.wait_for(first._task, 5)
    second = Ticker(name="metrics-test:b", interval=0.001, callback=callback, always=True)
    second.start()
    await asyncio.wait_for(second._task, 5)
    after = scrape_here()
    grown = value(after, "votemap_tick_seconds_count", ticker="metrics-test") - \
        value(before, "votemap_tick_seconds_count", ticker="metrics-test")
    assert grown == 5
    assert value(after, "votemap_tick_seconds_count", ticker="metrics-test:a") == 0


# ----- several processes ------------------------------------------------------
def scrape_over_http(url: str) -> str:
    request = urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        return resp.read().decode()


async def _connect(url: str, namespace: str) -> socketio.AsyncSimpleClient:
    client = socketio.AsyncSimpleClient()
    await client.connect(url, namespace=namespace, transports=["websocket"], wait_timeout=10)
    return client


async def _eventually(predicate, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


@pytest.mark.services
@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_two_processes_are_summed_and_a_killed_one_stops_counting(fresh_postgres_database,
                                                                        tmp_path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {"DATABASE_URL": fresh_postgres_database, "SOCKETIO_TRANSPORTS": "websocket",
           "PROMETHEUS_MULTIPROC_DIR": str(folder), "METRICS_TOKEN": TOKEN}
    a, b = (start_server_process(env=env, log_path=tmp_path / f"worker{i}.log") for i in range(2))
    clients: list[socketio.AsyncSimpleClient] = []
    try:
        clients = [await _connect(a.url, "/chat"), await _connect(b.url, "/chat"),
                   await _connect(b.url, "/chat"), await _connect(b.url, "/map-dashboard")]
        assert (await clients[1].call("invented", {}, timeout=5))["error"]["code"] == "unknown_event"

        def counted(expected_chat: int, expected_map: int) -> bool:
            text = scrape_over_http(a.url)
            return (value(text, "votemap_connections", namespace="/chat") == expected_chat
                    and value(text, "votemap_connections", namespace="/map-dashboard") == expected_map)

        # Either process answers with the sum over both.
        await _eventually(lambda: counted(3, 1), "3 + 1 connections over both processes")
        assert value(scrape_over_http(b.url), "votemap_connections", namespace="/chat") == 3

        b.proc.send_signal(signal.SIGKILL)  # no exit handler runs
        await asyncio.to_thread(b.proc.wait, 10)
        # The killed process's connections are gone from the sum at the next scrape...
        await _eventually(lambda: counted(1, 0), "only the live process's connection")
        # ...while the work it did stays counted (counters are totals).
        text = scrape_over_http(a.url)
        assert value(text, "votemap_events_total", namespace="/chat", event="*unknown*",
                     result="unknown_event") == 1
    finally:
        for client in clients:
            if client.connected:
                try:
                    await asyncio.wait_for(client.disconnect(), 2)
                except Exception:
                    pass
        a.stop()
        b.stop()
    # A process that stops cleanly removes its live gauges itself.
    assert not [name for name in os.listdir(folder) if name.startswith("gauge_live")
                and name.endswith(f"_{a.proc.pid}.db")]


def test_metrics_refuse_strangers_over_http_in_multiprocess_mode(tmp_path) -> None:
    folder = tmp_path / "metrics"  # made by the process
    database = {"SQLITE_PATH": str(tmp_path / "db.sqlite3")}
    migrate_database(database)
    server = start_server_process(env={"PROMETHEUS_MULTIPROC_DIR": str(folder), "METRICS_TOKEN": TOKEN,
                                       **database}, log_path=tmp_path / "server.log")
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/metrics", timeout=5)
        assert refused.value.code == 403 and refused.value.read() == b""
        list(text_string_to_metric_families(scrape_over_http(server.url)))  # parses
        assert any(name.endswith(f"_{server.proc.pid}.db") for name in os.listdir(folder))
    finally:
        server.stop()


# ----- structured logs --------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_log_format_json_writes_one_json_object_per_line(fmt) -> None:
    code = (
        "import django, logging; django.setup(); "
        "log = logging.getLogger('votemap_site.realtime'); "
        "log.warning('namespace=%s refused', '/chat'); "
        "\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    log.exception('handler failed')\n"
    )
    env = child_environment({"DJANGO_SETTINGS_MODULE": "votemap_site.settings", "LOG_FORMAT": fmt})
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    if fmt == "text":
        assert "WARNING votemap_site.realtime: namespace=/chat refused" in lines[0]
        with pytest.raises(json.JSONDecodeError):
            json.loads(lines[0])
        return
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert len(records) == 2
    first, second = records
    assert first["level"] == "WARNING" and first["logger"] == "votemap_site.realtime"
    assert first["message"] == "namespace=/chat refused" and first["time"] and first["pid"] > 0
    assert second["level"] == "ERROR" and "ZeroDivisionError" in second["exc_info"]


def test_an_unknown_log_format_is_refused() -> None:
    env = child_environment({"LOG_FORMAT": "xml"})
    out = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode != 0 and "LOG_FORMAT takes text or json" in out.stderr
