"""The local stack's HTTP server: a read timeout per connection and a listen backlog for bursts."""
from __future__ import annotations

import socket
from typing import Any

from chalice.local import ThreadedHTTPServer

from chalicelib.config import get_settings

# The standard library listens with a backlog of 5: a burst of clients beyond it is refused or
# waits for SYN retries (a second or more) before a thread is even started.
LISTEN_BACKLOG = 128


class StackHTTPServer(ThreadedHTTPServer):
    """Chalice's threaded server whose connections time out when a client stops sending.

    Without a timeout a client that sends headers and then its body a byte a minute (or never)
    holds a thread for ever; with it, each read (request line, headers, body, the next request
    of a kept-alive connection) waits at most TASKPORT_REQUEST_READ_TIMEOUT_SECONDS.
    """

    request_queue_size = LISTEN_BACKLOG

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        connection.settimeout(get_settings().request_read_timeout_seconds)
        return connection, address
