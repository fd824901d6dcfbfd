"""What every pynamodb model shares: table names, region and endpoint read lazily from settings."""
from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from pynamodb.connection import Connection
from pynamodb.constants import NONE
from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, UpdateError

from chalicelib.config import get_settings
from chalicelib.errors import Invalid


class SettingsMeta(type):
    """Metaclass for a model's Meta: table name, region and host come from settings at first use."""

    table_setting: str

    @property
    def table_name(cls) -> str:
        return getattr(get_settings(), cls.table_setting)

    @property
    def region(cls) -> str:
        return get_settings().region

    @property
    def host(cls) -> str | None:
        return get_settings().aws_endpoint_url


def table_meta(setting: str) -> Any:  # pynamodb types Model.Meta as a protocol, not a class
    """A Meta class whose table is the named Settings field; billing is on demand."""
    return SettingsMeta("Meta", (), {"table_setting": setting, "billing_mode": "PAY_PER_REQUEST",
                                     "max_retry_attempts": 3})


@functools.lru_cache(maxsize=1)
def _connection(region: str, host: str | None) -> Connection:
    return Connection(region=region, host=host)


def connection() -> Connection:
    """A low-level connection for transactions, shared per process."""
    settings = get_settings()
    return _connection(settings.region, settings.aws_endpoint_url)


def now() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def checked_start(start: dict[str, Any] | None, pk: str, sk_prefix: str) -> dict[str, Any] | None:
    """A query's exclusive start key from a client's page token, if it belongs to this listing."""
    if start is None:
        return None
    try:
        ours = (set(start) == {"pk", "sk"} and start["pk"] == {"S": pk}
                and set(start["sk"]) == {"S"} and start["sk"]["S"].startswith(sk_prefix)
                and len(start["sk"]["S"]) <= 1024 and bool(start["sk"]["S"].encode("utf-8")))
    except (KeyError, TypeError, AttributeError, UnicodeEncodeError):
        ours = False
    if not ours:
        raise Invalid("pageToken belongs to another listing", field="pageToken")
    return start


def reset() -> None:
    """Forget cached connections (tests)."""
    _connection.cache_clear()


def condition_failed(exc: PynamoDBException) -> bool:
    """Whether a write was refused only because its condition did not hold."""
    return exc.cause_response_code == "ConditionalCheckFailedException"


def save_if(record: Any, condition: Any) -> bool:
    """A conditional PutItem of `record`; whether the condition held."""
    try:
        record.save(condition=condition)
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def update_if(record: Any, actions: list[Any], condition: Any) -> bool:
    """A conditional UpdateItem (`record` takes the new item's values); whether the condition held."""
    try:
        record.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def delete_if(record: Any, condition: Any) -> bool:
    """A conditional DeleteItem of `record`; whether the condition held."""
    try:
        record.delete(condition=condition)
    except DeleteError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def update_quietly(model: Any, hash_key: str, range_key: str, actions: list[Any],
                   condition: Any) -> bool:
    """A conditional UpdateItem that asks for nothing back (Model.update always returns the whole
    new item); whether the condition held."""
    try:
        model._get_connection().update_item(hash_key, range_key=range_key, actions=actions,
                                            condition=condition, return_values=NONE)
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True
