"""Egress guard: refused addresses, pinned connections, no redirects, caps."""
from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from chalicelib import config, egress


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKPORT_EGRESS_ALLOW", "127.0.0.0/8")
    config.get_settings.cache_clear()


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        if self.path == "/slow":
            time.sleep(1.0)
        body = b"x" * 5000 if self.path == "/big" else f"host={self.headers['Host']}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the timeout test hangs up on purpose


@pytest.fixture
def server() -> Iterator[str]:
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1/x", "loopback"),
    ("http://[::1]/x", "loopback"),
    ("http://[::ffff:127.0.0.1]/x", "loopback"),
    ("http://10.1.2.3/x", "private"),
    ("http://192.168.0.1/x", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://224.0.0.1/x", "multicast"),
    ("http://0.0.0.0/x", "unspecified"),
    ("http://100.64.0.1/x", "not public"),
    ("http://localhost:8080/x", "loopback"),
])
def test_check_url_refuses_literal_non_public_hosts_with_reason(url, reason):
    with pytest.raises(egress.Refused) as refused:
        egress.check_url(url)
    assert reason in refused.value.reason and refused.value.url == url
    assert refused.value.message == f"{url!r} {refused.value.reason}"


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "example.com",
                                 "http://user:pw@example.com/", "http:///nohost", ""])
def test_check_url_refuses_bad_schemes_and_shapes(url):
    with pytest.raises(egress.Refused):
        egress.check_url(url)


def test_check_url_accepts_public_hosts():
    egress.check_url("https://93.184.216.34/hook")
    egress.check_url("https://hooks.example.com/receive?x=1")


def test_fetch_refuses_loopback_without_allow_list(server):
    with pytest.raises(egress.Refused):
        egress.fetch(server + "/ok")


def test_fetch_refuses_name_resolving_to_any_private_address(monkeypatch):
    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(egress.Refused) as refused:
        egress.fetch("http://mixed.example.com/")
    assert "10.0.0.5" in refused.value.message and "private" in refused.value.message


def test_fetch_connects_to_the_checked_address_and_keeps_the_host_name(server, allow_loopback,
                                                                       monkeypatch):
    port = int(server.rsplit(":", 1)[1])
    answers = iter(["127.0.0.1", "10.9.9.9"])
    real_getaddrinfo = socket.getaddrinfo

    def rebinding_getaddrinfo(host, port_, *args, **kwargs):
        if host != "rebind.example.com":
            return real_getaddrinfo(host, port_, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port_))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    fetched = egress.fetch(f"http://rebind.example.com:{port}/ok")
    assert fetched.status == 200
    assert fetched.body == f"host=rebind.example.com:{port}".encode()


def test_fetch_does_not_follow_redirects(server, allow_loopback):
    fetched = egress.fetch(server + "/redirect")
    assert fetched.status == 302
    assert fetched.headers["location"].startswith("http://169.254.169.254")


def test_fetch_caps_body_size(server, allow_loopback):
    with pytest.raises(egress.FetchFailed) as failed:
        egress.fetch(server + "/big", max_bytes=1000)
    assert failed.value.url == server + "/big"
    assert failed.value.reason == "could not be fetched: the body is over 1000 bytes"


def test_fetch_times_out(server, allow_loopback):
    with pytest.raises(egress.FetchFailed) as failed:
        egress.fetch(server + "/slow", timeout=0.2)
    assert "timed out" in failed.value.message


def test_fetch_names_unresolvable_hosts(monkeypatch):
    def failing_getaddrinfo(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", failing_getaddrinfo)
    with pytest.raises(egress.FetchFailed) as failed:
        egress.fetch("http://nowhere.invalid/")
    assert "cannot resolve nowhere.invalid" in failed.value.message


def test_a_connection_refused_after_the_fact_names_no_url(monkeypatch):
    """The peer check knows the host, not the URL: the refusal carries no url of its own."""
    class Peer:
        def getpeername(self):
            return ("10.1.2.3", 80)

        def close(self):
            pass

    with pytest.raises(egress.Refused) as refused:
        egress._check_peer(Peer(), "cats.example")
    assert refused.value.url is None
    assert refused.value.message == refused.value.reason == (
        "connection to cats.example refused: 10.1.2.3 is a private address")
