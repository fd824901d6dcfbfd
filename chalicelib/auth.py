"""Credentials -> Principal(account, workspace), for each surface's scheme; key hashing.

Secrets are random 160-bit-plus strings, so one SHA-256 is enough to store them (no slow hash
is needed against guessing); only the hash is ever written. A warm process keeps what it found
for `credential_cache_seconds` (default 60 s), so an authenticated request costs no DynamoDB
read; a revoked key stops working at once in the process that revoked it and within that TTL
everywhere else.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any, NamedTuple
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from chalicelib.config import get_settings
from chalicelib.errors import Unauthorized
from chalicelib.models import accounts
from chalicelib.models.accounts import DEFAULT_WORKSPACE, Account, Credential
from chalicelib.observability import logs

SECRET_PREFIXES = {"token": "tpt_", "secret_key": "tps_", "api_key": "tpa_", "access_key": "tpk_"}


class Principal(NamedTuple):
    """Who is calling: an account, the workspace the call works in, and the credential kind."""

    account: Account
    workspace: str
    kind: str

    @property
    def account_id(self) -> str:
        return self.account.account_id


def new_secret(kind: str) -> str:
    """A fresh secret of `kind`, recognisable by its prefix (useful to secret scanners)."""
    return SECRET_PREFIXES[kind] + secrets.token_urlsafe(24)


def hash_secret(secret: str) -> str:
    """The stored form of a secret."""
    return hashlib.sha256(b"taskport-credential:" + secret.encode("utf-8")).hexdigest()


class CredentialCache:
    """A bounded TTL cache of hash -> Credential | None (misses are cached too, briefly)."""

    def __init__(self, lookup: Callable[[str], Credential | None], ttl: float,
                 size: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Credential | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, secret_hash: str) -> Credential | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(secret_hash)
            if entry is not None and entry[0] > now:
                self._entries.move_to_end(secret_hash)
                return entry[1]
        found = self._lookup(secret_hash)
        with self._lock:
            self._entries[secret_hash] = (now + self._ttl, found)
            self._entries.move_to_end(secret_hash)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return found

    def forget(self, secret_hash: str | None = None) -> None:
        """Drop one hash (after a revocation) or everything."""
        with self._lock:
            if secret_hash is None:
                self._entries.clear()
            else:
                self._entries.pop(secret_hash, None)


_cache: CredentialCache | None = None


def credential_cache() -> CredentialCache:
    """The process-wide credential cache, built on first use."""
    global _cache
    if _cache is None:
        _cache = CredentialCache(accounts.find_credential, get_settings().credential_cache_seconds)
    return _cache


def reset() -> None:
    """Forget the cache (tests)."""
    global _cache
    _cache = None


def verify_secret(secret: str | None, kind: str) -> Credential:
    """The credential for `secret` if it is live and of `kind`; Unauthorized otherwise."""
    if not secret:
        raise Unauthorized("credentials are missing")
    secret_hash = hash_secret(secret)
    found = credential_cache().get(secret_hash)
    if found is None or found.kind != kind or not hmac.compare_digest(found.secret_hash, secret_hash):
        raise Unauthorized("invalid credentials")
    logs.bind(account=found.account.account_id)  # every later line of this request names it
    return found


def _authorization(headers: Mapping[str, str]) -> tuple[str, str]:
    value = _header(headers, "authorization")
    if not value:
        return "", ""
    scheme, _, rest = value.strip().partition(" ")
    return scheme.lower(), rest.strip()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Chalice hands a case-insensitive mapping; plain dicts (tests, pollers) may not be.
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value


def bearer(headers: Mapping[str, str], workspace_header: str | None = None) -> Principal:
    """`Authorization: Bearer <token>`; the workspace comes from `workspace_header` if given."""
    scheme, value = _authorization(headers)
    if scheme != "bearer":
        raise Unauthorized("expected 'Authorization: Bearer <token>'")
    credential = verify_secret(value, "token")
    workspace = (_header(headers, workspace_header) if workspace_header else None) or DEFAULT_WORKSPACE
    return Principal(credential.account, workspace, "token")


def basic(headers: Mapping[str, str]) -> Principal:
    """HTTP Basic `client_handle:access_key`."""
    scheme, value = _authorization(headers)
    if scheme != "basic":
        raise Unauthorized("expected HTTP Basic authentication 'client_handle:access_key'")
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    # ValueError: a header with non-ASCII characters is not base64 at all.
    except (binascii.Error, ValueError) as exc:
        raise Unauthorized("malformed Basic credentials") from exc
    client_handle, sep, access_key = decoded.partition(":")
    if not sep:
        raise Unauthorized("malformed Basic credentials")
    credential = verify_secret(access_key, "access_key")
    if not hmac.compare_digest(client_handle.encode(), credential.account.handle.encode()):
        raise Unauthorized("invalid credentials")
    return Principal(credential.account, DEFAULT_WORKSPACE, "access_key")


DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL without userinfo; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a malformed IPv6 literal or port
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    # Browsers never send userinfo in a Referer; one that holds it is crafted to mislead a reader.
    if scheme not in DEFAULT_PORTS or not host or "@" in parts.netloc or port == 0:
        return None
    return scheme, host, DEFAULT_PORTS[scheme] if port is None else port


def referrer_allowed(referrer: str | None, whitelist: tuple[str, ...]) -> bool:
    """Whether a Referer is in the whitelist.

    Entries: a host (`app.example.com`) or a wildcard domain (`*.example.com`, also matching
    `example.com`) match an http or https Referer on any valid port; an origin
    (`https://app.example.com:8443`) pins the scheme and the port (the scheme's default port
    when it names none). A Referer that is not an http(s) URL, has userinfo or an invalid port
    matches nothing.
    """
    origin = _origin(referrer) if referrer else None
    if origin is None:
        return False
    _, host, _ = origin
    for entry in whitelist:
        entry = entry.strip().lower()
        if "://" in entry:
            if _origin(entry) == origin:
                return True
        elif entry.startswith("*."):
            if host.endswith(entry[1:]) or host == entry[2:]:
                return True
        elif host == entry:
            return True
    return False


def secret_or_api_key(headers: Mapping[str, str], params: Mapping[str, Any]) -> Principal:
    """The task API's schemes: `Secret`/`Api-Key` header, or `secret`/`api_key` in body or query.

    An api key is only accepted from a Referer (or Referrer) in the account's whitelist.
    """
    scheme, value = _authorization(headers)
    if scheme == "secret":
        secret, api_key = value, None
    elif scheme == "api-key":
        secret, api_key = None, value
    else:
        secret, api_key = params.get("secret"), params.get("api_key")
    if secret is not None:
        if not isinstance(secret, str):
            raise Unauthorized("secret must be a string")
        credential = verify_secret(secret, "secret_key")
        return Principal(credential.account, DEFAULT_WORKSPACE, "secret_key")
    if api_key is not None:
        if not isinstance(api_key, str):
            raise Unauthorized("api_key must be a string")
        credential = verify_secret(api_key, "api_key")
        referrer = _header(headers, "referer") or _header(headers, "referrer")
        if not referrer_allowed(referrer, credential.account.referrers):
            raise Unauthorized("the Referer of this request is not in the account's whitelist")
        return Principal(credential.account, DEFAULT_WORKSPACE, "api_key")
    raise Unauthorized("credentials are missing: give a secret key or an api key")


def has_credentials(headers: Mapping[str, str], params: Mapping[str, Any]) -> bool:
    """Whether the request presents any task-API credential at all."""
    scheme, _ = _authorization(headers)
    return scheme in ("secret", "api-key") or "secret" in params or "api_key" in params
