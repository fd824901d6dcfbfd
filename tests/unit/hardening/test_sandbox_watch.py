"""A dead local sandbox server is started again, and /health says when it is down."""
from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable

import pytest


def _listening_server() -> tuple[str, Callable[[], None]]:
    directory = tempfile.mkdtemp(prefix="sandbox-watch-")
    path = os.path.join(directory, "s.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    stopped = threading.Event()

    def accept() -> None:
        while not stopped.is_set():
            try:
                connection, _ = listener.accept()
                connection.close()
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()

    def stop() -> None:
        stopped.set()
        listener.close()
        if os.path.exists(path):
            os.unlink(path)

    return f"unix:{path}", stop


def test_a_dead_sandbox_server_is_started_again(monkeypatch):
    from chalicelib import config
    from chalicelib.local.sandbox_watch import SandboxSupervisor, sandbox_health

    monkeypatch.delenv("TASKPORT_SANDBOX_URL", raising=False)
    started: list[tuple[str, Callable[[], None]]] = []

    def start():
        started.append(_listening_server())
        return started[-1]

    supervisor = SandboxSupervisor(start, interval=0.1)
    supervisor.start()
    try:
        first = supervisor.url
        assert sandbox_health() == "ok"
        started[0][1]()  # the server dies
        for _ in range(50):
            if supervisor.restarts:
                break
            time.sleep(0.1)
        assert supervisor.restarts == 1 and supervisor.url != first
        assert config.get_settings().sandbox_url == supervisor.url
        assert sandbox_health() == "ok"
    finally:
        supervisor.stop()
        config.get_settings.cache_clear()


@pytest.mark.parametrize("url, status, body", [
    ("unix:/nonexistent/sandbox.sock", 503, {"status": "degraded", "sandbox": "down"}),
    (None, 200, {"status": "ok", "sandbox": "lambda"}),
])
def test_health_reports_the_sandbox(client, monkeypatch, url, status, body):
    from chalicelib import config

    if url:
        monkeypatch.setenv("TASKPORT_SANDBOX_URL", url)
    config.get_settings.cache_clear()
    response = client.http.get("/health")
    assert (response.status_code, json.loads(response.body)) == (status, body)


def test_stack_warns_at_start_when_the_given_sandbox_url_does_not_answer(monkeypatch, caplog):
    from chalicelib.local.stack import Stack

    url, stop = _listening_server()
    stop()  # a server that is gone, its URL still set
    monkeypatch.setenv("TASKPORT_SANDBOX_URL", url)
    with caplog.at_level("WARNING", logger="taskport.local"):
        Stack(port=0)._start_sandbox()
    assert any(url in record.getMessage() and "does not answer" in record.getMessage()
               for record in caplog.records)


def test_stack_uses_the_given_sandbox_url_quietly_when_it_answers(monkeypatch, caplog):
    from chalicelib.local.stack import Stack

    url, stop = _listening_server()
    monkeypatch.setenv("TASKPORT_SANDBOX_URL", url)
    try:
        with caplog.at_level("WARNING", logger="taskport.local"):
            Stack(port=0)._start_sandbox()
    finally:
        stop()
    assert not [record for record in caplog.records if "does not answer" in record.getMessage()]
    assert os.environ["TASKPORT_SANDBOX_URL"] == url
