"""Egress guard: fetch URLs only from public addresses, checked on the address actually used.

The host is resolved once, every address is checked, and the connection is made to a checked
address (HTTPS keeps the name for SNI and certificate checks), so a DNS answer that changes
between check and connect (rebinding) cannot reach a private address. Redirects are never
followed: a 3xx comes back to the caller as it is.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from typing import NamedTuple
from collections.abc import Iterable
from urllib.parse import urlsplit

from chalicelib.config import get_settings
from chalicelib.errors import Invalid, UpstreamFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
USER_AGENT = "Taskport/1.0"


class Refused(Invalid):
    """The URL may not be fetched. `url` is the URL the refusal names (None when it is about a
    connection, after the fact), `reason` the rest; the message is both."""

    def __init__(self, reason: str, url: str | None = None) -> None:
        super().__init__(_worded(reason, url))
        self.reason, self.url = reason, url


class FetchFailed(UpstreamFailed):
    """The fetch was allowed but failed: network error, timeout, or a body over the limit.
    `url` and `reason` as for Refused."""

    def __init__(self, reason: str, url: str | None = None) -> None:
        super().__init__(_worded(reason, url), status_code=502)
        self.reason, self.url = reason, url


def _worded(reason: str, url: str | None) -> str:
    return reason if url is None else f"{url!r} {reason}"


class Fetched(NamedTuple):
    """An HTTP answer: status, lower-case headers, the body and the URL asked for."""

    status: int
    headers: dict[str, str]
    body: bytes
    url: str


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for cidr in get_settings().egress_allow:
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            continue
    return networks


def refusal(address: IPAddress) -> str | None:
    """Why an address may not be reached, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if any(address in network for network in _allowed_networks()):
        return None
    if address.is_loopback:
        return "loopback address"
    if address.is_unspecified:
        return "unspecified address"
    if address.is_link_local:
        return "link-local address (cloud metadata lives there)"
    if address.is_multicast:
        return "multicast address"
    if address.is_private:
        return "private address"
    if address.is_reserved:
        return "reserved address"
    if not address.is_global:
        return "address that is not public"
    return None


def _split(url: str) -> tuple[str, str, int, str]:
    if not isinstance(url, str) or not url:
        raise Refused("the URL is empty")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"is not a valid URL: {exc}", url) from exc
    if parts.scheme not in ("http", "https"):
        raise Refused("is refused: only http and https URLs may be fetched", url)
    host = parts.hostname
    if not host:
        raise Refused("is refused: it has no host", url)
    if parts.username or parts.password:
        raise Refused("is refused: credentials in URLs are not allowed", url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_url(url: str) -> None:
    """Refuse a URL whose scheme is not http(s) or whose host is a literal refused address."""
    _, host, _, _ = _split(url)
    address = _literal(host)
    if address is None and host.lower().rstrip(".") in ("localhost", "localhost.localdomain"):
        address = ipaddress.ip_address("127.0.0.1")
    if address is not None:
        reason = refusal(address)
        if reason:
            raise Refused(f"is refused: {host} is a {reason}", url)


def resolve(url: str, host: str, port: int) -> list[IPAddress]:
    """Every address of `host`, all checked; Refused when any one is not allowed."""
    literal = _literal(host)
    if literal is not None:
        addresses: Iterable[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise FetchFailed(f"could not be fetched: cannot resolve {host}: {exc}", url) from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    checked = list(addresses)
    for address in checked:
        reason = refusal(address)
        if reason:
            raise Refused(f"is refused: {host} resolves to {address}, a {reason}", url)
    return checked


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked beforehand, whatever DNS says now."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)
        _check_peer(self.sock, self.host)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, with SNI and certificate checks against the host name."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((str(self._address), self.port), self.timeout)
        _check_peer(raw, self.host)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def _check_peer(sock: socket.socket, host: str) -> None:
    peer = ipaddress.ip_address(sock.getpeername()[0])
    reason = refusal(peer)
    if reason:
        sock.close()
        raise Refused(f"connection to {host} refused: {peer} is a {reason}")


def fetch(url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
          body: bytes | None = None, timeout: float | None = None,
          max_bytes: int | None = None) -> Fetched:
    """One HTTP request through the guard; the whole exchange must finish within `timeout`."""
    settings = get_settings()
    timeout = settings.fetch_timeout_seconds if timeout is None else timeout
    max_bytes = settings.fetch_max_bytes if max_bytes is None else max_bytes
    scheme, host, port, path = _split(url)
    addresses = resolve(url, host, port)
    deadline = time.monotonic() + timeout
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    last_error: Exception | None = None
    for address in addresses:
        connection = connection_class(host, port, address, timeout)
        try:
            connection.request(method, path, body=body,
                               headers={"User-Agent": USER_AGENT, **(headers or {})})
            response = connection.getresponse()
            data = _read_capped(response, url, max_bytes, deadline)
            return Fetched(status=response.status,
                           headers={k.lower(): v for k, v in response.getheaders()},
                           body=data, url=url)
        except (Refused, FetchFailed):
            raise
        except TimeoutError as exc:
            raise FetchFailed(f"could not be fetched: timed out after {timeout:g} s", url) from exc
        except (OSError, http.client.HTTPException) as exc:
            last_error = exc
        finally:
            connection.close()
    raise FetchFailed(f"could not be fetched: {last_error}", url)


def _read_capped(response: http.client.HTTPResponse, url: str, max_bytes: int,
                 deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise FetchFailed("could not be fetched: timed out while reading the body", url)
        chunk = response.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise FetchFailed(f"could not be fetched: the body is over {max_bytes} bytes", url)
        chunks.append(chunk)
