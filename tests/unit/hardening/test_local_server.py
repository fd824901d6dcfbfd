"""The local server holds no thread for ever on a slow client and takes bursts of connections."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from chalice import Chalice
    from chalice.local import LocalDevServer

    from chalicelib import config
    from chalicelib.local.serving import StackHTTPServer
    from chalicelib.local.stack import chalice_config, request_handler_class

    monkeypatch.setenv("TASKPORT_REQUEST_READ_TIMEOUT_SECONDS", "0.5")
    config.get_settings.cache_clear()
    app = Chalice("slow")

    @app.route("/", methods=["POST"])
    def index() -> dict[str, int]:
        request = app.current_request
        return {"got": len(request.raw_body or b"") if request else 0}

    local = LocalDevServer(app, chalice_config(app), "127.0.0.1", 0,
                           handler_cls=request_handler_class(), server_cls=StackHTTPServer)
    thread = threading.Thread(target=local.server.serve_forever, daemon=True)
    thread.start()
    yield local.server
    local.server.shutdown()
    local.server.server_close()


def test_a_body_that_never_comes_is_dropped_after_the_read_timeout(server):
    port = server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        started = time.monotonic()
        closed = client.recv(1024)  # the server hangs up instead of waiting for 97 more bytes
        assert time.monotonic() - started < 3
        assert closed == b"" or b"HTTP/1." in closed


def test_the_server_listens_with_a_backlog_for_bursts(server):
    from chalicelib.local.serving import LISTEN_BACKLOG

    assert server.request_queue_size == LISTEN_BACKLOG >= 128
    port = server.server_address[1]
    # A burst of connections opened before any is served: every one is accepted.
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(64)]
    try:
        for sock in sockets:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close"
                         b"\r\n\r\nok")
        answers = [sock.recv(1024) for sock in sockets]
        assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers)
    finally:
        for sock in sockets:
            sock.close()
