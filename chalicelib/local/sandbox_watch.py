"""The local sandbox server, watched: restarted when it dies, and its state for /health."""
from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from chalicelib.local.pollers import BackgroundLoop

log = logging.getLogger("taskport.local")

UNIX_SCHEME = "unix:"
Start = Callable[[], tuple[str, Callable[[], None]]]


def reachable(url: str | None, timeout: float = 1.0) -> bool:
    """Whether a sandbox server answers connections at `url` (a unix: or http: URL)."""
    if not url:
        return False
    try:
        if url.startswith(UNIX_SCHEME):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(timeout)
                probe.connect(url[len(UNIX_SCHEME):])
            return True
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout):
            return True
    except OSError:
        return False


def sandbox_health() -> str:
    """`ok`, `down`, or `lambda` (on AWS the sandbox is a function, not checked from here)."""
    from chalicelib.config import get_settings

    url = get_settings().sandbox_url
    if not url:
        return "lambda"
    return "ok" if reachable(url) else "down"


class SandboxSupervisor(BackgroundLoop):
    """Starts the sandbox server and starts it again, within `interval`, whenever it dies.

    Every sandbox call used to fail for ever after the server died. The new server listens on a
    new socket: TASKPORT_SANDBOX_URL and the cached settings are updated to it.
    """

    name = "sandbox-supervisor"

    def __init__(self, start: Start, interval: float = 1.0) -> None:
        super().__init__()
        self._start_server = start
        self._interval = interval
        self._lock = threading.Lock()
        self.restarts = 0
        self.url, self._stop_server = self._launch()

    def _launch(self) -> tuple[str, Callable[[], None]]:
        from chalicelib import config

        url, stop = self._start_server()
        os.environ["TASKPORT_SANDBOX_URL"] = url
        config.get_settings.cache_clear()
        return url, stop

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if reachable(self.url):
                continue
            log.error("the sandbox server at %s is gone: starting a new one", self.url)
            with self._lock:
                try:
                    self._stop_server()
                except Exception:  # it is dead already; what is left of it is cleaned up best-effort
                    log.exception("stopping the dead sandbox server failed")
                try:
                    self.url, self._stop_server = self._launch()
                    self.restarts += 1
                except Exception:
                    log.exception("the sandbox server did not start again; retrying")

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        with self._lock:
            self._stop_server()
