"""Account-defined task types in the entities table.

    pk ACCOUNT#<account id>, sk TASKTYPE#<name>  - the type: its script, description, schema, files
"""
from __future__ import annotations

from typing import Any, NamedTuple

from pynamodb.attributes import JSONAttribute, ListAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from chalicelib.models.base import delete_if, now, save_if, table_meta

PREFIX = "TASKTYPE#"


class TaskTypeRecord(Model):
    """A task type an account defined, backed by a script in its files."""

    Meta = table_meta("entities_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    script_path = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    description = UnicodeAttribute(null=True)
    params_schema = JSONAttribute(null=True)
    files: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[arg-type]


class TaskTypeDefinition(NamedTuple):
    """An account's task type as the rest of the code sees it."""

    account_id: str
    name: str
    script_path: str
    description: str | None
    params_schema: dict[str, Any] | None
    files: tuple[str, ...] | None
    created_at: str
    updated_at: str


def _pk(account_id: str) -> str:
    return f"ACCOUNT#{account_id}"


def _to_definition(account_id: str, record: TaskTypeRecord) -> TaskTypeDefinition:
    return TaskTypeDefinition(
        account_id=account_id, name=record.name, script_path=record.script_path,
        description=record.description, params_schema=record.params_schema,
        files=tuple(record.files) if record.files is not None else None,
        created_at=record.created_at.isoformat(), updated_at=record.updated_at.isoformat())


def get(account_id: str, name: str) -> TaskTypeDefinition | None:
    """The account's type `name`, or None (strongly consistent: a type just saved is found)."""
    try:
        record = TaskTypeRecord.get(_pk(account_id), PREFIX + name, consistent_read=True)
    except DoesNotExist:
        return None
    return _to_definition(account_id, record)


def put(account_id: str, name: str, script_path: str, description: str | None,
        params_schema: dict[str, Any] | None, files: list[str] | None) -> tuple[TaskTypeDefinition, bool]:
    """Create or replace the type; whether it was new (one write, told apart by its old image)."""
    stamp = now()
    record = TaskTypeRecord(_pk(account_id), PREFIX + name, name=name, script_path=script_path,
                            description=description, params_schema=params_schema, files=files,
                            created_at=stamp, updated_at=stamp)
    # A conditional create, then an update when it exists: created_at survives a replacement.
    if save_if(record, TaskTypeRecord.pk.does_not_exist()):
        return _to_definition(account_id, record), True
    record.update(actions=[
        TaskTypeRecord.script_path.set(script_path),
        TaskTypeRecord.description.set(description) if description is not None
        else TaskTypeRecord.description.remove(),
        TaskTypeRecord.params_schema.set(params_schema) if params_schema is not None
        else TaskTypeRecord.params_schema.remove(),
        TaskTypeRecord.files.set(files) if files is not None else TaskTypeRecord.files.remove(),
        TaskTypeRecord.updated_at.set(stamp),
    ])
    return _to_definition(account_id, record), False


def delete(account_id: str, name: str) -> bool:
    """Remove the type; whether it existed."""
    return delete_if(TaskTypeRecord(_pk(account_id), PREFIX + name), TaskTypeRecord.pk.exists())


def list_all(account_id: str, limit: int) -> list[TaskTypeDefinition]:
    """The account's types by name (at most `limit`)."""
    records = TaskTypeRecord.query(_pk(account_id), TaskTypeRecord.sk.startswith(PREFIX), limit=limit)
    return [_to_definition(account_id, record) for record in records]
