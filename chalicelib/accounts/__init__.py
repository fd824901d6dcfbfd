"""Accounts and their credentials: create, rotate, revoke (secrets are shown once, stored hashed)."""
from __future__ import annotations

import re
import uuid
from typing import Any, NamedTuple

from chalicelib import auth
from chalicelib.errors import Invalid
from chalicelib.models import accounts as store
from chalicelib.models.accounts import CREDENTIAL_KINDS, Account

HANDLE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MAX_REFERRERS = 50


class NewAccount(NamedTuple):
    """An account just created, with the only copy of its secrets."""

    account: Account
    secrets: dict[str, str]


def validate_handle(handle: Any) -> str:
    """An account handle: 2-63 of a-z, 0-9 and '-', starting with a letter or digit."""
    if not isinstance(handle, str) or not HANDLE_PATTERN.match(handle):
        raise Invalid("handle must be 2-63 characters of a-z, 0-9 and '-', starting with a "
                      "letter or digit", field="handle")
    return handle


def validate_referrers(referrers: Any) -> list[str]:
    """A Referer whitelist: host names, '*.domain' or origins such as 'https://app.example.com'."""
    if referrers is None:
        return []
    if not isinstance(referrers, list) or not all(isinstance(r, str) and r.strip() for r in referrers):
        raise Invalid("referrers must be a list of non-empty strings", field="referrers")
    if len(referrers) > MAX_REFERRERS:
        raise Invalid(f"at most {MAX_REFERRERS} referrers", field="referrers")
    return [r.strip() for r in referrers]


def create_account(handle: Any, referrers: Any = None) -> NewAccount:
    """Create an account with a default workspace and one credential of every kind."""
    handle = validate_handle(handle)
    referrers = validate_referrers(referrers)
    secrets = {kind: auth.new_secret(kind) for kind in CREDENTIAL_KINDS}
    account = store.create_account(
        account_id=uuid.uuid4().hex, handle=handle, referrers=referrers,
        credential_hashes={kind: auth.hash_secret(secret) for kind, secret in secrets.items()},
        default_workspace_id=uuid.uuid4().hex)
    return NewAccount(account, secrets)


def get_account(handle: str) -> Account:
    """The account with this handle, or NotFound."""
    return store.find_account_by_handle(handle)


def validate_kind(kind: str) -> str:
    """One of the credential kinds."""
    if kind not in CREDENTIAL_KINDS:
        raise Invalid(f"unknown credential kind {kind!r}; choose one of {', '.join(CREDENTIAL_KINDS)}",
                      field="kind")
    return kind


def rotate_credential(handle: str, kind: str) -> tuple[Account, str]:
    """Replace the account's credential of `kind` with a new one; the old one stops working."""
    validate_kind(kind)
    account = store.find_account_by_handle(handle)
    secret = auth.new_secret(kind)
    old_hash = store.replace_credential(account.account_id, kind, auth.hash_secret(secret))
    if old_hash:
        auth.credential_cache().forget(old_hash)
    return store.get_account(account.account_id), secret


def revoke_credential(handle: str, kind: str) -> Account:
    """Revoke the account's credential of `kind`; rotating later issues a new one."""
    validate_kind(kind)
    account = store.find_account_by_handle(handle)
    old_hash = store.replace_credential(account.account_id, kind, None)
    if old_hash:
        auth.credential_cache().forget(old_hash)
    return store.get_account(account.account_id)


def set_referrers(handle: str, referrers: Any) -> Account:
    """Replace the account's Referer whitelist (cached credentials see it within the cache TTL)."""
    if referrers is None:
        raise Invalid("referrers is required: the list that replaces the whitelist ([] empties it)",
                      field="referrers")
    account = store.find_account_by_handle(handle)
    return store.set_referrers(account.account_id, validate_referrers(referrers))
