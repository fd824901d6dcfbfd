"""The embedded AWS emulator of the local stack: moto's server, one request at a time.

moto's backends are plain Python objects without locks; its threaded server lets two requests
change one DynamoDB item or one S3 object at the same moment, and under the local stack's load
(API threads, pollers, the janitor) that occasionally broke a request with an internal error.
AWS itself serializes what it must, so the emulator does the same here: every request runs
under one lock, except SQS long polls, which wait for messages and would hold up every other
call for up to their wait time (moto's queues take their own lock for receive and send).
"""
from __future__ import annotations

import threading
from typing import Any
from collections.abc import Callable, Iterable

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

UNSERIALIZED_TARGETS = frozenset({"AmazonSQS.ReceiveMessage"})


def serialized(app: WSGIApp) -> WSGIApp:
    """`app` answering one request at a time (SQS long polls excepted); the body is read whole."""
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") in UNSERIALIZED_TARGETS:
            return app(environ, start_response)
        with lock:
            answer = app(environ, start_response)
            try:
                return [b"".join(answer)]
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()

    return serve


class Emulator:
    """moto's server on 127.0.0.1 in a background thread; `url` once started."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import (DomainDispatcherApplication,
                                                   MotoRequestHandler, create_backend_app)
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass  # one line per AWS call would drown the local stack's own log

        app = serialized(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-emulator",
                                        daemon=True)
        host_, port_ = self._server.server_address[:2]
        self.url = f"http://{host_!s}:{port_}"

    def start(self) -> str:
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
