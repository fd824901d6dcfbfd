"""Workflows in the entities table: pk ACCOUNT#<account id>, sk WORKFLOW#<handle>."""
from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from pynamodb.attributes import ListAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from chalicelib.errors import NotFound
from chalicelib.models.base import now, save_if, table_meta, update_if


class WorkflowRecord(Model):
    """One workflow of an account; the signing secret is stored as is (it signs, so it must be)."""

    Meta = table_meta("entities_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    handle = UnicodeAttribute()
    name = UnicodeAttribute()
    input_fields: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    webhook_url = UnicodeAttribute()
    webhook_secret = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    handler_script_path = UnicodeAttribute(null=True)
    previous_secret = UnicodeAttribute(null=True)
    previous_secret_until = UTCDateTimeAttribute(null=True)
    webhook_disabled_at = UTCDateTimeAttribute(null=True)
    webhook_disabled_reason = UnicodeAttribute(null=True)


class Workflow(NamedTuple):
    """A workflow as the rest of the code sees it."""

    account_id: str
    handle: str
    name: str
    input_fields: tuple[str, ...]
    webhook_url: str
    webhook_secret: str
    handler_script_path: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    previous_secret: str | None = None
    previous_secret_until: dt.datetime | None = None
    webhook_disabled_at: dt.datetime | None = None
    webhook_disabled_reason: str | None = None

    @property
    def automated(self) -> bool:
        return bool(self.handler_script_path)

    @property
    def webhook_enabled(self) -> bool:
        return self.webhook_disabled_at is None

    def signing_secrets(self, at: dt.datetime) -> list[str]:
        """The secrets that sign a webhook sent at `at`: the current one, and the previous one
        during its grace period after a rotation."""
        secrets = [self.webhook_secret]
        if self.previous_secret and self.previous_secret_until and at < self.previous_secret_until:
            secrets.append(self.previous_secret)
        return secrets


def _key(account_id: str, handle: str) -> tuple[str, str]:
    return f"ACCOUNT#{account_id}", f"WORKFLOW#{handle}"


def _to_workflow(account_id: str, record: WorkflowRecord) -> Workflow:
    return Workflow(
        account_id=account_id, handle=record.handle, name=record.name,
        input_fields=tuple(record.input_fields or ()), webhook_url=record.webhook_url,
        webhook_secret=record.webhook_secret, handler_script_path=record.handler_script_path,
        created_at=record.created_at, updated_at=record.updated_at,
        previous_secret=record.previous_secret, previous_secret_until=record.previous_secret_until,
        webhook_disabled_at=record.webhook_disabled_at,
        webhook_disabled_reason=record.webhook_disabled_reason)


def put_workflow(account_id: str, handle: str, *, name: str, input_fields: list[str],
                 webhook_url: str, handler_script_path: str | None,
                 new_secret: str) -> tuple[Workflow, bool]:
    """Create the workflow (with `new_secret`) or update it in place; True when created.

    An update keeps the secret and re-enables a webhook that a 410 disabled.
    """
    pk, sk = _key(account_id, handle)
    stamp = now()
    record = WorkflowRecord(pk, sk, handle=handle, name=name, input_fields=input_fields,
                            webhook_url=webhook_url, webhook_secret=new_secret,
                            handler_script_path=handler_script_path,
                            created_at=stamp, updated_at=stamp)
    if save_if(record, WorkflowRecord.pk.does_not_exist()):
        return _to_workflow(account_id, record), True
    record = WorkflowRecord(pk, sk)
    record.update(actions=[
        WorkflowRecord.name.set(name),
        WorkflowRecord.input_fields.set(input_fields),
        WorkflowRecord.webhook_url.set(webhook_url),
        (WorkflowRecord.handler_script_path.set(handler_script_path) if handler_script_path
         else WorkflowRecord.handler_script_path.remove()),
        WorkflowRecord.webhook_disabled_at.remove(),
        WorkflowRecord.webhook_disabled_reason.remove(),
        WorkflowRecord.updated_at.set(stamp),
    ], condition=WorkflowRecord.pk.exists())
    return _to_workflow(account_id, record), False


def get_workflow(account_id: str, handle: str, *, consistent: bool = False) -> Workflow:
    """The account's workflow with this handle, or NotFound."""
    try:
        record = WorkflowRecord.get(*_key(account_id, handle), consistent_read=consistent)
    except DoesNotExist as exc:
        raise NotFound(f"no workflow {handle!r}") from exc
    return _to_workflow(account_id, record)


def list_workflows(account_id: str) -> list[Workflow]:
    """Every workflow of the account, by handle."""
    pk, _ = _key(account_id, "")
    return [_to_workflow(account_id, record) for record in
            WorkflowRecord.query(pk, WorkflowRecord.sk.startswith("WORKFLOW#"))]


def rotate_secret(account_id: str, handle: str, new_secret: str,
                  grace_until: dt.datetime) -> Workflow:
    """Install a new signing secret; the old one keeps signing (beside it) until `grace_until`."""
    current = get_workflow(account_id, handle, consistent=True)
    record = WorkflowRecord(*_key(account_id, handle))
    # Conditional on the secret read, so that two rotations cannot both keep a stale "previous".
    if not update_if(record, [
        WorkflowRecord.webhook_secret.set(new_secret),
        WorkflowRecord.previous_secret.set(current.webhook_secret),
        WorkflowRecord.previous_secret_until.set(grace_until),
        WorkflowRecord.updated_at.set(now()),
    ], WorkflowRecord.webhook_secret == current.webhook_secret):
        return rotate_secret(account_id, handle, new_secret, grace_until)
    return _to_workflow(account_id, record)


def disable_webhook(account_id: str, handle: str, url: str, reason: str) -> bool:
    """Disable the workflow's webhook if its URL is still `url`; False when it changed meanwhile."""
    record = WorkflowRecord(*_key(account_id, handle))
    return update_if(record, [WorkflowRecord.webhook_disabled_at.set(now()),
                              WorkflowRecord.webhook_disabled_reason.set(reason)],
                     WorkflowRecord.pk.exists() & (WorkflowRecord.webhook_url == url))
