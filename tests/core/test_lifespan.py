"""Start-up and Ctrl-C shutdown of the real server process."""

import asyncio
import signal

import pytest
import socketio

from tests.conftest import migrate_database, start_server_process

pytestmark = pytest.mark.slow


async def test_ctrl_c_stops_background_tasks_cleanly(tmp_path) -> None:
    env = {"SQLITE_PATH": str(tmp_path / "db.sqlite3"), "DJANGO_LOG_LEVEL": "INFO"}
    migrate_database(env)
    server = start_server_process(env=env, log_path=tmp_path / "server.log")
    client = socketio.AsyncSimpleClient()
    await client.connect(server.url, namespace="/lobby", transports=["websocket"], wait_timeout=10)
    try:
        server.proc.send_signal(signal.SIGINT)
        code = await asyncio.to_thread(server.proc.wait, 20)
    finally:
        server.kill()
        if client.connected:
            await client.disconnect()
    log = (tmp_path / "server.log").read_text()
    assert code == 0, log
    assert "lifespan" not in log.lower() or "unsupported" not in log.lower()
    assert "realtime server started" in log
    assert "realtime server stopped" in log
    assert "Traceback" not in log and "Task was destroyed" not in log, log
