"""Accounts, workspaces and credentials in the accounts table (pk/sk single-table layout)."""
from __future__ import annotations

from typing import Any, NamedTuple

from pynamodb.attributes import (ListAttribute, MapAttribute, UnicodeAttribute,
                                 UTCDateTimeAttribute)
from pynamodb.exceptions import (DoesNotExist, TransactWriteError)
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import Conflict, NotFound
from chalicelib.models.base import checked_start, connection, delete_if, now, save_if, table_meta, update_if

CREDENTIAL_KINDS = ("token", "secret_key", "api_key", "access_key")
DEFAULT_WORKSPACE = "default"


class AccountRecord(Model):
    """One account: pk ACCOUNT#<id>, sk ACCOUNT; `credentials` maps kind -> current hash."""

    Meta = table_meta("accounts_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    account_id = UnicodeAttribute()
    handle = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    referrers: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    credentials: MapAttribute[str, Any] = MapAttribute(default=dict)


class HandleClaim(Model):
    """Claims an account handle for one account: pk HANDLE#<handle>, sk HANDLE."""

    Meta = table_meta("accounts_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    account_id = UnicodeAttribute()


class WorkspaceRecord(Model):
    """A workspace of an account: pk ACCOUNT#<id>, sk WORKSPACE#<handle>."""

    Meta = table_meta("accounts_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    workspace_id = UnicodeAttribute()
    handle = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class CredentialRecord(Model):
    """A credential, stored by the hash of its secret: pk CRED#<hash>, sk CRED."""

    Meta = table_meta("accounts_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    account_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)


class Account(NamedTuple):
    """An account as the rest of the code sees it."""

    account_id: str
    handle: str
    referrers: tuple[str, ...] = ()
    credential_kinds: tuple[str, ...] = ()


class Credential(NamedTuple):
    """A live credential found by its hash."""

    account: Account
    kind: str
    secret_hash: str


class Workspace(NamedTuple):
    """A workspace of an account."""

    workspace_id: str
    account_id: str
    handle: str
    created_at: str


def _account_key(account_id: str) -> tuple[str, str]:
    return f"ACCOUNT#{account_id}", "ACCOUNT"


def _credential_map(record: AccountRecord) -> dict[str, str]:
    credentials = record.credentials
    if credentials is None:
        return {}
    return dict(credentials.as_dict() if isinstance(credentials, MapAttribute) else credentials)


def _to_account(record: AccountRecord) -> Account:
    return Account(account_id=record.account_id, handle=record.handle,
                   referrers=tuple(record.referrers or ()),
                   credential_kinds=tuple(sorted(_credential_map(record))))


def _credential_record(account_id: str, kind: str, secret_hash: str) -> CredentialRecord:
    return CredentialRecord(f"CRED#{secret_hash}", "CRED", account_id=account_id, kind=kind,
                            secret_hash=secret_hash, created_at=now())


def _workspace_record(account_id: str, workspace_id: str, handle: str) -> WorkspaceRecord:
    return WorkspaceRecord(f"ACCOUNT#{account_id}", f"WORKSPACE#{handle}",
                           workspace_id=workspace_id, handle=handle, created_at=now())


def create_account(account_id: str, handle: str, referrers: list[str],
                   credential_hashes: dict[str, str], default_workspace_id: str) -> Account:
    """Create an account, its default workspace and its credentials in one transaction."""
    pk, sk = _account_key(account_id)
    account = AccountRecord(pk, sk, account_id=account_id, handle=handle, created_at=now(),
                            referrers=referrers, credentials=dict(credential_hashes))
    claim = HandleClaim(f"HANDLE#{handle}", "HANDLE", account_id=account_id)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(claim, condition=HandleClaim.pk.does_not_exist())
            tx.save(account, condition=AccountRecord.pk.does_not_exist())
            tx.save(_workspace_record(account_id, default_workspace_id, DEFAULT_WORKSPACE))
            for kind, secret_hash in credential_hashes.items():
                tx.save(_credential_record(account_id, kind, secret_hash),
                        condition=CredentialRecord.pk.does_not_exist())
    except TransactWriteError as exc:
        if exc.cause_response_code == "TransactionCanceledException":
            raise Conflict(f"an account with handle {handle!r} exists already",
                           field="handle") from exc
        raise
    return _to_account(account)


def get_account(account_id: str) -> Account:
    """The account with this id, or NotFound."""
    try:
        return _to_account(AccountRecord.get(*_account_key(account_id)))
    except DoesNotExist as exc:
        raise NotFound(f"no account {account_id!r}") from exc


def find_account_by_handle(handle: str) -> Account:
    """The account that holds this handle, or NotFound."""
    try:
        claim = HandleClaim.get(f"HANDLE#{handle}", "HANDLE")
    except DoesNotExist as exc:
        raise NotFound(f"no account with handle {handle!r}") from exc
    return get_account(claim.account_id)


def find_credential(secret_hash: str) -> Credential | None:
    """The live credential with this hash, or None when unknown or revoked."""
    try:
        record = CredentialRecord.get(f"CRED#{secret_hash}", "CRED")
    except DoesNotExist:
        return None
    if record.revoked_at is not None:
        return None
    return Credential(account=get_account(record.account_id), kind=record.kind,
                      secret_hash=record.secret_hash)


def replace_credential(account_id: str, kind: str, new_hash: str | None) -> str | None:
    """Revoke the account's current credential of `kind` and install `new_hash` (None: revoke only).

    Returns the revoked hash so that caches can drop it.
    """
    pk, sk = _account_key(account_id)
    try:
        record = AccountRecord.get(pk, sk, consistent_read=True)
    except DoesNotExist as exc:
        raise NotFound(f"no account {account_id!r}") from exc
    current = _credential_map(record)
    old_hash = current.get(kind)
    if new_hash is None:
        current.pop(kind, None)
    else:
        current[kind] = new_hash
    with TransactWrite(connection=connection()) as tx:
        if old_hash is not None:
            tx.update(CredentialRecord(f"CRED#{old_hash}", "CRED"),
                      actions=[CredentialRecord.revoked_at.set(now())],
                      condition=CredentialRecord.pk.exists())
        if new_hash is not None:
            tx.save(_credential_record(account_id, kind, new_hash),
                    condition=CredentialRecord.pk.does_not_exist())
        # The condition on the old map makes two concurrent rotations settle on one winner.
        condition = (AccountRecord.credentials[kind] == old_hash if old_hash is not None
                     else AccountRecord.credentials[kind].does_not_exist())
        tx.update(record, actions=[AccountRecord.credentials.set(current)], condition=condition)
    return old_hash


def get_workspace(account_id: str, handle: str) -> Workspace:
    """The workspace `handle` of the account, or NotFound."""
    try:
        record = WorkspaceRecord.get(f"ACCOUNT#{account_id}", f"WORKSPACE#{handle}")
    except DoesNotExist as exc:
        raise NotFound(f"no workspace {handle!r}") from exc
    return Workspace(workspace_id=record.workspace_id, account_id=account_id,
                     handle=record.handle, created_at=record.created_at.isoformat())


def create_workspace(account_id: str, workspace_id: str, handle: str) -> Workspace:
    """Create a workspace; Conflict when the handle is taken in this account."""
    record = _workspace_record(account_id, workspace_id, handle)
    if not save_if(record, WorkspaceRecord.pk.does_not_exist()):
        raise Conflict(f"workspace {handle!r} exists already", field="handle")
    return Workspace(workspace_id=workspace_id, account_id=account_id, handle=handle,
                     created_at=record.created_at.isoformat())


def _to_workspace(account_id: str, record: WorkspaceRecord) -> Workspace:
    return Workspace(workspace_id=record.workspace_id, account_id=account_id,
                     handle=record.handle, created_at=record.created_at.isoformat())


def list_workspaces(account_id: str, limit: int,
                    start: dict | None = None) -> tuple[list[Workspace], dict | None]:
    """A page of the account's workspaces in handle order, and the key to continue after."""
    pk = f"ACCOUNT#{account_id}"
    results = WorkspaceRecord.query(pk, WorkspaceRecord.sk.startswith("WORKSPACE#"), limit=limit,
                                    last_evaluated_key=checked_start(start, pk, "WORKSPACE#"))
    return [_to_workspace(account_id, r) for r in results], results.last_evaluated_key


def delete_workspace(workspace: Workspace) -> None:
    """Remove a workspace; NotFound when it is gone (or was replaced) meanwhile."""
    record = WorkspaceRecord(f"ACCOUNT#{workspace.account_id}", f"WORKSPACE#{workspace.handle}")
    if not delete_if(record, WorkspaceRecord.workspace_id == workspace.workspace_id):
        raise NotFound(f"no workspace {workspace.handle!r}")


def set_referrers(account_id: str, referrers: list[str]) -> Account:
    """Replace the account's Referer whitelist."""
    pk, sk = _account_key(account_id)
    record = AccountRecord(pk, sk)
    if not update_if(record, [AccountRecord.referrers.set(referrers)], AccountRecord.pk.exists()):
        raise NotFound(f"no account {account_id!r}")
    return _to_account(record)


ALL_MODELS = (AccountRecord, HandleClaim, WorkspaceRecord, CredentialRecord)
