"""Packages, their versions and their instances in the entities table.

    pk ACCOUNT#<account id>, sk PKG#<package handle>                          - a package
    pk ACCOUNT#<account id>, sk PKGVER#<package handle>#<version handle>      - a version
    pk ACCOUNT#<account id>, sk PKGINST#<workspace id>#<instance handle>      - an instance
Packages and versions belong to the account; instances to a workspace, keyed by the workspace's
id so that a workspace deleted and created again under the same handle starts empty. An
instance carries a copy of what invoking it needs (source location, methods, config), so a
call reads one item; versions are immutable, so the copy never goes stale.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from pynamodb.attributes import JSONAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import (DeleteError, DoesNotExist, PutError, TransactWriteError,
                                 UpdateError)
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import Conflict, NotFound
from chalicelib.models.accounts import WorkspaceRecord
from chalicelib.models.base import checked_start, connection, now, table_meta

PACKAGE_PREFIX = "PKG#"
VERSION_PREFIX = "PKGVER#"
INSTANCE_PREFIX = "PKGINST#"
SOURCE_RUNTIME = "source"
BUNDLE_RUNTIME = "bundle"

LastKey = dict[str, Any] | None


class PackageRecord(Model):
    """A package of an account; `latest_version` is the handle of its newest version."""

    Meta = table_meta("entities_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    package_id = UnicodeAttribute()
    handle = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    latest_version = UnicodeAttribute(null=True)


class VersionRecord(Model):
    """An immutable version of a package: where its source is and which methods it has."""

    Meta = table_meta("entities_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    version_id = UnicodeAttribute()
    handle = UnicodeAttribute()
    package_id = UnicodeAttribute()
    package_handle = UnicodeAttribute()
    source_path = UnicodeAttribute()
    source_etag = UnicodeAttribute()
    methods = JSONAttribute()
    created_at = UTCDateTimeAttribute()
    runtime = UnicodeAttribute(null=True)  # None: a one-module source (before bundles existed)
    config_template = JSONAttribute(null=True)


class InstanceRecord(Model):
    """An instance of a package version in a workspace, with its config."""

    Meta = table_meta("entities_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    instance_id = UnicodeAttribute()
    handle = UnicodeAttribute()
    workspace_id = UnicodeAttribute()
    workspace_handle = UnicodeAttribute()
    package_id = UnicodeAttribute()
    package_handle = UnicodeAttribute()
    version_id = UnicodeAttribute()
    version_handle = UnicodeAttribute()
    source_path = UnicodeAttribute()
    source_etag = UnicodeAttribute()
    methods = JSONAttribute()
    config = JSONAttribute()
    created_at = UTCDateTimeAttribute()
    runtime = UnicodeAttribute(null=True)


class Method(NamedTuple):
    """A method a package version offers; `background` ones always run as a task."""

    name: str
    background: bool
    parameters: tuple[str, ...]


class Package(NamedTuple):
    """A package as the rest of the code sees it."""

    package_id: str
    account_id: str
    handle: str
    created_at: str
    latest_version: str | None


class PackageVersion(NamedTuple):
    """A version of a package: a one-module `source`, or a `bundle` built from a Steamship zip
    (source_path/source_etag then name the bundle)."""

    version_id: str
    account_id: str
    handle: str
    package_id: str
    package_handle: str
    source_path: str
    source_etag: str
    methods: tuple[Method, ...]
    created_at: str
    runtime: str = SOURCE_RUNTIME
    config_template: dict[str, Any] | None = None


class PackageInstance(NamedTuple):
    """An instance of a package version in a workspace."""

    instance_id: str
    account_id: str
    handle: str
    workspace_id: str
    workspace_handle: str
    package_id: str
    package_handle: str
    version_id: str
    version_handle: str
    source_path: str
    source_etag: str
    methods: tuple[Method, ...]
    config: dict[str, Any]
    created_at: str
    runtime: str = SOURCE_RUNTIME


def _pk(account_id: str) -> str:
    return f"ACCOUNT#{account_id}"


def _version_sk(package_handle: str, handle: str = "") -> str:
    return f"{VERSION_PREFIX}{package_handle}#{handle}"


def _instance_sk(workspace_id: str, handle: str = "") -> str:
    return f"{INSTANCE_PREFIX}{workspace_id}#{handle}"


def _methods_in(raw: Any) -> tuple[Method, ...]:
    return tuple(Method(name=m["name"], background=bool(m["background"]),
                        parameters=tuple(m.get("parameters") or ())) for m in raw or ())


def _methods_out(methods: tuple[Method, ...]) -> list[dict[str, Any]]:
    return [{"name": m.name, "background": m.background, "parameters": list(m.parameters)}
            for m in methods]


def _to_package(account_id: str, record: PackageRecord) -> Package:
    return Package(package_id=record.package_id, account_id=account_id, handle=record.handle,
                   created_at=record.created_at.isoformat(), latest_version=record.latest_version)


def _to_version(account_id: str, record: VersionRecord) -> PackageVersion:
    return PackageVersion(version_id=record.version_id, account_id=account_id,
                          handle=record.handle, package_id=record.package_id,
                          package_handle=record.package_handle, source_path=record.source_path,
                          source_etag=record.source_etag, methods=_methods_in(record.methods),
                          created_at=record.created_at.isoformat(),
                          runtime=record.runtime or SOURCE_RUNTIME,
                          config_template=record.config_template)


def _to_instance(account_id: str, record: InstanceRecord) -> PackageInstance:
    return PackageInstance(
        instance_id=record.instance_id, account_id=account_id, handle=record.handle,
        workspace_id=record.workspace_id, workspace_handle=record.workspace_handle,
        package_id=record.package_id, package_handle=record.package_handle,
        version_id=record.version_id, version_handle=record.version_handle,
        source_path=record.source_path, source_etag=record.source_etag,
        methods=_methods_in(record.methods), config=dict(record.config or {}),
        created_at=record.created_at.isoformat(), runtime=record.runtime or SOURCE_RUNTIME)


def _failed(exc: TransactWriteError) -> list[bool]:
    """Which items of a canceled transaction failed their condition."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return [reason is not None and getattr(reason, "code", None) == "ConditionalCheckFailed"
            for reason in reasons]


def _conditional_failed(exc: PutError | DeleteError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


def create_package(account_id: str, package_id: str, handle: str) -> Package:
    """Store a new package; Conflict when the account has one with this handle."""
    record = PackageRecord(_pk(account_id), PACKAGE_PREFIX + handle, package_id=package_id,
                           handle=handle, created_at=now())
    try:
        record.save(condition=PackageRecord.sk.does_not_exist())
    except PutError as exc:
        if _conditional_failed(exc):
            raise Conflict(f"a package with handle {handle!r} exists already",
                           field="handle") from exc
        raise
    return _to_package(account_id, record)


def get_package(account_id: str, handle: str, consistent: bool = False) -> Package:
    """The account's package with this handle, or NotFound."""
    try:
        record = PackageRecord.get(_pk(account_id), PACKAGE_PREFIX + handle,
                                   consistent_read=consistent)
    except DoesNotExist as exc:
        raise NotFound(f"no package {handle!r}", field="packageHandle") from exc
    return _to_package(account_id, record)


def _page(model: type[Model], account_id: str, prefix: str, limit: int,
          start: LastKey) -> tuple[list[Any], LastKey]:
    """One page of the account's items of one kind (sk prefix), and the key to continue after."""
    pk = _pk(account_id)
    results = model.query(pk, model.sk.startswith(prefix), limit=limit,  # type: ignore[attr-defined]
                          last_evaluated_key=checked_start(start, pk, prefix))
    return list(results), results.last_evaluated_key


def list_packages(account_id: str, limit: int, start: LastKey) -> tuple[list[Package], LastKey]:
    """A page of the account's packages in handle order, and the key to continue after."""
    records, last_key = _page(PackageRecord, account_id, PACKAGE_PREFIX, limit, start)
    return [_to_package(account_id, r) for r in records], last_key


def create_version(version: PackageVersion) -> PackageVersion:
    """Store a version and make it its package's latest, in one transaction.

    Conflict when the package has a version with this handle; NotFound when the package is gone.
    """
    pk = _pk(version.account_id)
    record = VersionRecord(pk, _version_sk(version.package_handle, version.handle),
                           version_id=version.version_id, handle=version.handle,
                           package_id=version.package_id, package_handle=version.package_handle,
                           source_path=version.source_path, source_etag=version.source_etag,
                           methods=_methods_out(version.methods), created_at=now(),
                           runtime=version.runtime, config_template=version.config_template)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(record, condition=VersionRecord.sk.does_not_exist())
            tx.update(PackageRecord(pk, PACKAGE_PREFIX + version.package_handle),
                      actions=[PackageRecord.latest_version.set(version.handle)],
                      condition=PackageRecord.package_id == version.package_id)
    except TransactWriteError as exc:
        failed = _failed(exc)
        if failed and failed[0]:
            raise Conflict(f"package {version.package_handle!r} has a version "
                           f"{version.handle!r} already", field="handle") from exc
        if len(failed) > 1 and failed[1]:
            raise NotFound(f"no package {version.package_handle!r}",
                           field="packageHandle") from exc
        raise
    return _to_version(version.account_id, record)


def get_version(account_id: str, package_handle: str, handle: str) -> PackageVersion:
    """A version of the account's package, or NotFound."""
    try:
        record = VersionRecord.get(_pk(account_id), _version_sk(package_handle, handle))
    except DoesNotExist as exc:
        raise NotFound(f"package {package_handle!r} has no version {handle!r}",
                       field="packageVersionHandle") from exc
    return _to_version(account_id, record)


def list_versions(account_id: str, package_handle: str, limit: int,
                  start: LastKey) -> tuple[list[PackageVersion], LastKey]:
    """A page of a package's versions in handle order."""
    records, last_key = _page(VersionRecord, account_id, _version_sk(package_handle), limit,
                              start)
    return [_to_version(account_id, r) for r in records], last_key


def _instance_record(instance: PackageInstance) -> InstanceRecord:
    return InstanceRecord(
        _pk(instance.account_id), _instance_sk(instance.workspace_id, instance.handle),
        instance_id=instance.instance_id, handle=instance.handle,
        workspace_id=instance.workspace_id, workspace_handle=instance.workspace_handle,
        package_id=instance.package_id, package_handle=instance.package_handle,
        version_id=instance.version_id, version_handle=instance.version_handle,
        source_path=instance.source_path, source_etag=instance.source_etag,
        methods=_methods_out(instance.methods), config=instance.config, created_at=now(),
        runtime=instance.runtime)


def create_instance(instance: PackageInstance) -> PackageInstance:
    """Store a new instance while its workspace exists, in one transaction.

    Conflict when the workspace has an instance with this handle; NotFound when the workspace
    was deleted meanwhile.
    """
    record = _instance_record(instance)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.condition_check(WorkspaceRecord, _pk(instance.account_id),
                               f"WORKSPACE#{instance.workspace_handle}",
                               condition=WorkspaceRecord.workspace_id == instance.workspace_id)
            tx.save(record, condition=InstanceRecord.sk.does_not_exist())
            # A version deleted meanwhile (package/version delete) takes no new instance.
            tx.condition_check(VersionRecord, _pk(instance.account_id),
                               _version_sk(instance.package_handle, instance.version_handle),
                               condition=VersionRecord.version_id == instance.version_id)
    except TransactWriteError as exc:
        # pynamodb sends condition checks first, then puts: workspace, version, instance.
        failed = _failed(exc)
        if failed and failed[0]:
            raise NotFound(f"no workspace {instance.workspace_handle!r}") from exc
        if len(failed) > 1 and failed[1]:
            raise NotFound(f"package {instance.package_handle!r} has no version "
                           f"{instance.version_handle!r}", field="packageVersionHandle") from exc
        if len(failed) > 2 and failed[2]:
            raise Conflict(f"an instance with handle {instance.handle!r} exists already in "
                           f"workspace {instance.workspace_handle!r}", field="handle") from exc
        raise
    return _to_instance(instance.account_id, record)


def get_instance(account_id: str, workspace_id: str, handle: str,
                 consistent: bool = False) -> PackageInstance:
    """An instance in a workspace of the account, or NotFound."""
    try:
        record = InstanceRecord.get(_pk(account_id), _instance_sk(workspace_id, handle),
                                    consistent_read=consistent)
    except DoesNotExist as exc:
        raise NotFound(f"no package instance {handle!r}", field="handle") from exc
    return _to_instance(account_id, record)


def list_instances(account_id: str, workspace_id: str, limit: int,
                   start: LastKey) -> tuple[list[PackageInstance], LastKey]:
    """A page of a workspace's instances in handle order."""
    records, last_key = _page(InstanceRecord, account_id, _instance_sk(workspace_id), limit,
                              start)
    return [_to_instance(account_id, r) for r in records], last_key


def delete_instance(instance: PackageInstance) -> None:
    """Remove an instance; NotFound when it is gone (or was replaced) meanwhile."""
    record = InstanceRecord(_pk(instance.account_id),
                            _instance_sk(instance.workspace_id, instance.handle))
    try:
        record.delete(condition=InstanceRecord.instance_id == instance.instance_id)
    except DeleteError as exc:
        if _conditional_failed(exc):
            raise NotFound(f"no package instance {instance.handle!r}", field="handle") from exc
        raise


def delete_workspace_instances(account_id: str, workspace_id: str) -> int:
    """Remove every instance of a (deleted) workspace; how many there were."""
    records = list(InstanceRecord.query(
        _pk(account_id), InstanceRecord.sk.startswith(_instance_sk(workspace_id)),
        consistent_read=True, attributes_to_get=["pk", "sk"]))
    with InstanceRecord.batch_write() as batch:
        for record in records:
            batch.delete(record)
    return len(records)


def find_package_by_id(account_id: str, package_id: str) -> Package:
    """The account's package with this id (a query over its packages), or NotFound."""
    for record in PackageRecord.query(_pk(account_id), PackageRecord.sk.startswith(PACKAGE_PREFIX)):
        if record.package_id == package_id:
            return _to_package(account_id, record)
    raise NotFound(f"no package with id {package_id!r}", field="id")


def find_version_by_id(account_id: str, version_id: str) -> PackageVersion:
    """The account's package version with this id (a query over its versions), or NotFound."""
    for record in VersionRecord.query(_pk(account_id), VersionRecord.sk.startswith(VERSION_PREFIX)):
        if record.version_id == version_id:
            return _to_version(account_id, record)
    raise NotFound(f"no package version with id {version_id!r}", field="id")


def delete_instances_of(account_id: str, package_id: str, version_id: str | None = None) -> int:
    """Remove every instance (in any workspace) of a package, or of one of its versions."""
    records = [r for r in InstanceRecord.query(
        _pk(account_id), InstanceRecord.sk.startswith(INSTANCE_PREFIX), consistent_read=True)
        if r.package_id == package_id and version_id in (None, r.version_id)]
    with InstanceRecord.batch_write() as batch:
        for record in records:
            batch.delete(record)
    return len(records)


def delete_version(version: PackageVersion) -> None:
    """Remove a version (NotFound when it is gone or was replaced); the package forgets it as its
    latest when it was."""
    pk = _pk(version.account_id)
    try:
        VersionRecord(pk, _version_sk(version.package_handle, version.handle)).delete(
            condition=VersionRecord.version_id == version.version_id)
    except DeleteError as exc:
        if _conditional_failed(exc):
            raise NotFound(f"no package version with id {version.version_id!r}",
                           field="id") from exc
        raise
    _forget_latest(version.account_id, version.package_handle, version.handle)


def _forget_latest(account_id: str, package_handle: str, handle: str) -> None:
    """Unset the package's latest version if it is still `handle` (one conditional write)."""
    record = PackageRecord(_pk(account_id), PACKAGE_PREFIX + package_handle)
    try:
        record.update(actions=[PackageRecord.latest_version.remove()],
                      condition=PackageRecord.latest_version == handle)
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def delete_package(package: Package) -> None:
    """Remove a package and all its versions (its instances: delete_instances_of)."""
    pk = _pk(package.account_id)
    try:
        PackageRecord(pk, PACKAGE_PREFIX + package.handle).delete(
            condition=PackageRecord.package_id == package.package_id)
    except DeleteError as exc:
        if _conditional_failed(exc):
            raise NotFound(f"no package with id {package.package_id!r}", field="id") from exc
        raise
    records = list(VersionRecord.query(pk, VersionRecord.sk.startswith(_version_sk(package.handle)),
                                       consistent_read=True, attributes_to_get=["pk", "sk"]))
    with VersionRecord.batch_write() as batch:
        for record in records:
            batch.delete(record)
