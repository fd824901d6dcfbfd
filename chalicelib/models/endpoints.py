"""HTTP endpoints in the entities table, each with a claim on its path (one transaction).

    pk ACCOUNT#<account id>, sk HTTPENDPOINT#<id>  - the endpoint
    pk ACCOUNT#<account id>, sk HTTPPATH#<path>    - the path claim, carrying what a trigger needs
The claim makes paths unique per account and lets a trigger find its endpoint with one GetItem.
"""
from __future__ import annotations

from typing import NamedTuple

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import Conflict, NotFound
from chalicelib.models.base import connection, now, table_meta

ENDPOINT_PREFIX = "HTTPENDPOINT#"
PATH_PREFIX = "HTTPPATH#"


class EndpointRecord(Model):
    """An HTTP endpoint of an account."""

    Meta = table_meta("entities_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    endpoint_id = UnicodeAttribute()
    path = UnicodeAttribute()
    handler_script_path = UnicodeAttribute()
    enabled = BooleanAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class PathClaim(Model):
    """Claims an endpoint path within an account; a copy of what a trigger needs."""

    Meta = table_meta("entities_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    endpoint_id = UnicodeAttribute()
    handler_script_path = UnicodeAttribute()
    enabled = BooleanAttribute()


class Endpoint(NamedTuple):
    """An HTTP endpoint as the rest of the code sees it."""

    account_id: str
    endpoint_id: str
    path: str
    handler_script_path: str
    enabled: bool


def _pk(account_id: str) -> str:
    return f"ACCOUNT#{account_id}"


def _to_endpoint(account_id: str, record: EndpointRecord) -> Endpoint:
    return Endpoint(account_id=account_id, endpoint_id=record.endpoint_id, path=record.path,
                    handler_script_path=record.handler_script_path, enabled=bool(record.enabled))


def _claim(endpoint: Endpoint) -> PathClaim:
    return PathClaim(_pk(endpoint.account_id), PATH_PREFIX + endpoint.path,
                     endpoint_id=endpoint.endpoint_id,
                     handler_script_path=endpoint.handler_script_path, enabled=endpoint.enabled)


def _record(endpoint: Endpoint, created_at: object = None) -> EndpointRecord:
    stamp = now()
    return EndpointRecord(_pk(endpoint.account_id), ENDPOINT_PREFIX + endpoint.endpoint_id,
                          endpoint_id=endpoint.endpoint_id, path=endpoint.path,
                          handler_script_path=endpoint.handler_script_path,
                          enabled=endpoint.enabled, created_at=created_at or stamp,
                          updated_at=stamp)


def _failed(exc: TransactWriteError) -> list[bool]:
    """Which items of a canceled transaction failed their condition."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return [reason is not None and getattr(reason, "code", None) == "ConditionalCheckFailed"
            for reason in reasons]


def create_endpoint(endpoint: Endpoint) -> Endpoint:
    """Store a new endpoint and claim its path; Conflict naming the taken id or path."""
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(_record(endpoint), condition=EndpointRecord.sk.does_not_exist())
            tx.save(_claim(endpoint), condition=PathClaim.sk.does_not_exist())
    except TransactWriteError as exc:
        failed = _failed(exc)
        if failed and failed[0]:
            raise Conflict(f"an endpoint with id {endpoint.endpoint_id!r} exists already",
                           field="id") from exc
        if len(failed) > 1 and failed[1]:
            raise Conflict(f"the path {endpoint.path!r} is taken by another endpoint",
                           field="path") from exc
        raise
    return endpoint


def get_endpoint(account_id: str, endpoint_id: str, consistent: bool = False) -> Endpoint:
    """The account's endpoint with this id, or NotFound."""
    try:
        record = EndpointRecord.get(_pk(account_id), ENDPOINT_PREFIX + endpoint_id,
                                    consistent_read=consistent)
    except DoesNotExist as exc:
        raise NotFound(f"no HTTP endpoint with id {endpoint_id!r}") from exc
    return _to_endpoint(account_id, record)


def replace_endpoint(old: Endpoint, new: Endpoint) -> Endpoint:
    """Move `old` to `new` in one transaction (path claim included); Conflict on any race."""
    try:
        with TransactWrite(connection=connection()) as tx:
            record = _record(new)
            tx.update(record, actions=[
                EndpointRecord.path.set(new.path),
                EndpointRecord.handler_script_path.set(new.handler_script_path),
                EndpointRecord.enabled.set(new.enabled),
                EndpointRecord.updated_at.set(record.updated_at),
            ], condition=(EndpointRecord.path == old.path)
                & (EndpointRecord.handler_script_path == old.handler_script_path)
                & (EndpointRecord.enabled == old.enabled))
            if new.path != old.path:
                tx.delete(_claim(old), condition=PathClaim.endpoint_id == old.endpoint_id)
                tx.save(_claim(new), condition=PathClaim.sk.does_not_exist())
            else:
                tx.save(_claim(new), condition=PathClaim.endpoint_id == old.endpoint_id)
    except TransactWriteError as exc:
        failed = _failed(exc)
        if new.path != old.path and len(failed) > 2 and failed[2]:
            raise Conflict(f"the path {new.path!r} is taken by another endpoint",
                           field="path") from exc
        if failed and any(failed):
            raise Conflict("the endpoint changed meanwhile; read it and try again",
                           field="id") from exc
        raise
    return new


def delete_endpoint(endpoint: Endpoint) -> None:
    """Remove an endpoint and release its path."""
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.delete(_record(endpoint), condition=EndpointRecord.path == endpoint.path)
            tx.delete(_claim(endpoint), condition=PathClaim.endpoint_id == endpoint.endpoint_id)
    except TransactWriteError as exc:
        if any(_failed(exc)):
            raise NotFound(f"no HTTP endpoint with id {endpoint.endpoint_id!r}") from exc
        raise


def list_endpoints(account_id: str) -> list[Endpoint]:
    """Every endpoint of the account, in id order."""
    return [_to_endpoint(account_id, record) for record in EndpointRecord.query(
        _pk(account_id), EndpointRecord.sk.startswith(ENDPOINT_PREFIX))]


def find_by_path(account_id: str, path: str) -> Endpoint:
    """The endpoint that holds `path` in the account (one GetItem), or NotFound."""
    try:
        claim = PathClaim.get(_pk(account_id), PATH_PREFIX + path)
    except DoesNotExist as exc:
        raise NotFound(f"no HTTP endpoint at path {path!r}") from exc
    return Endpoint(account_id=account_id, endpoint_id=claim.endpoint_id, path=path,
                    handler_script_path=claim.handler_script_path, enabled=bool(claim.enabled))
