"""Packages, package versions (source in the account's files, methods described in the sandbox),
and package instances (a version plus a config, in a workspace)."""
from __future__ import annotations

import json
import re
import uuid
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import files, runs, sandbox
from chalicelib.config import get_settings
from chalicelib.errors import Conflict, Invalid, NotFound, PayloadTooLarge
from chalicelib.models import packages as store
from chalicelib.models.accounts import Workspace
from chalicelib.models.packages import Method, Package, PackageInstance, PackageVersion
from chalicelib.packages import runtime_script
from chalicelib.packages.pages import PageRequest, next_token

HANDLE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SOURCE_ROOT = "/.packages"
MAX_CONFIG_BYTES = 64 * 1024


def validate_handle(handle: Any, field: str = "handle") -> str:
    """A package or instance handle: 1-64 of a-z, 0-9 and '-', starting with a letter or digit."""
    if not isinstance(handle, str) or not HANDLE_PATTERN.match(handle):
        raise Invalid(f"{field} must be 1-64 characters of a-z, 0-9 and '-', starting with a "
                      "letter or digit", field=field)
    return handle


def validate_version_handle(handle: Any, field: str = "handle") -> str:
    """A version handle such as `1.0.0`: 1-64 of A-Z, a-z, 0-9, '.', '_' and '-'."""
    if not isinstance(handle, str) or not VERSION_PATTERN.match(handle):
        raise Invalid(f"{field} must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-', "
                      "starting with a letter or digit", field=field)
    return handle


def _required_text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid(f"{field} is required: a non-empty string", field=field)
    return value


def create_package(account_id: str, handle: Any, fetch_if_exists: bool) -> Package:
    """A new package of the account; the existing one when `fetch_if_exists`, else Conflict."""
    handle = validate_handle(handle)
    try:
        return store.create_package(account_id, uuid.uuid4().hex, handle)
    except Conflict:
        if not fetch_if_exists:
            raise
    return store.get_package(account_id, handle, consistent=True)


def get_package(account_id: str, handle: Any) -> Package:
    """The account's package `handle`, or NotFound."""
    return store.get_package(account_id, validate_handle(handle, "handle"))


def list_packages(account_id: str, page: PageRequest) -> tuple[list[Package], str | None]:
    """A page of the account's packages and the token of the next page."""
    found, last_key = store.list_packages(account_id, page.size, page.start)
    return found, next_token(last_key)


def _describe(source: str, filename: str) -> tuple[Method, ...]:
    """The methods the source offers, found by loading it in the sandbox (never here)."""
    try:
        answer = sandbox.run_function(runtime_script(source, filename), filename,
                                      "taskport_describe", [], {}, on_report=runs.on_report)
    except sandbox.SandboxError as exc:
        raise Invalid(f"the source could not be loaded: {exc.message}", field="source") from exc
    if "invalid" in answer:
        raise Invalid(answer["invalid"], field="source")
    return tuple(Method(name=m["name"], background=m["background"],
                        parameters=tuple(m["parameters"])) for m in answer["result"])


def create_version(account_id: str, package_handle: Any, handle: Any,
                   source: Any) -> PackageVersion:
    """A new version of a package from Python source; it becomes the package's latest."""
    package_handle = validate_handle(package_handle, "packageHandle")
    handle = validate_version_handle(handle)
    source = _required_text(source, "source")
    size, limit = len(source.encode("utf-8")), get_settings().max_script_bytes
    if size > limit:
        raise PayloadTooLarge(f"source is {size} bytes; the limit is {limit}", field="source")
    package = store.get_package(account_id, package_handle)
    version_id = uuid.uuid4().hex
    # A fresh path per version id: a create that loses a race never overwrites a stored source.
    path = f"{SOURCE_ROOT}/{package.handle}/{handle}/{version_id}.py"
    with runs.recording(runs.BUILD, account_id, subject_key=f"package:{package.handle}",
                        package=package.handle, version=handle):
        methods = _describe(source, path)
    stored = files.put_file(account_id, path, source.encode("utf-8"), "text/x-python")
    try:
        return store.create_version(PackageVersion(
            version_id=version_id, account_id=account_id, handle=handle,
            package_id=package.package_id, package_handle=package.handle, source_path=path,
            source_etag=stored.etag, methods=methods, created_at=""))
    except (Conflict, NotFound):
        _forget_source(account_id, path)
        raise


def _forget_source(account_id: str, path: str) -> None:
    try:
        files.delete_file(account_id, path)
    except (NotFound, ClientError):
        pass  # an orphaned source file costs storage, nothing else


def get_version(account_id: str, package_handle: Any, handle: Any) -> PackageVersion:
    """A version of the account's package, or NotFound."""
    package_handle = validate_handle(package_handle, "packageHandle")
    return store.get_version(account_id, package_handle,
                             validate_version_handle(handle, "handle"))


def list_versions(account_id: str, package_handle: Any,
                  page: PageRequest) -> tuple[list[PackageVersion], str | None]:
    """A page of a package's versions (NotFound when there is no such package)."""
    package = store.get_package(account_id, validate_handle(package_handle, "packageHandle"))
    found, last_key = store.list_versions(account_id, package.handle, page.size, page.start)
    return found, next_token(last_key)


def _config(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise Invalid("config must be an object", field="config")
    size = len(json.dumps(config).encode("utf-8"))
    if size > MAX_CONFIG_BYTES:
        raise PayloadTooLarge(f"config is {size} bytes; the limit is {MAX_CONFIG_BYTES}",
                              field="config")
    return config


def _version_for(account_id: str, package: Package, version_handle: Any) -> PackageVersion:
    if version_handle is not None:
        return store.get_version(account_id, package.handle,
                                 validate_version_handle(version_handle, "packageVersionHandle"))
    if package.latest_version is None:
        raise NotFound(f"package {package.handle!r} has no version yet",
                       field="packageVersionHandle")
    return store.get_version(account_id, package.handle, package.latest_version)


def create_instance(account_id: str, workspace: Workspace, body: dict[str, Any],
                    fetch_if_exists: bool) -> PackageInstance:
    """A new instance of a package version (the latest unless named) in the workspace.

    With `fetch_if_exists`, an instance with this handle is answered as it is, provided it is
    an instance of the same package (else Conflict); without it, any existing one is a Conflict.
    """
    handle = validate_handle(body.get("handle"))
    package_handle = validate_handle(body.get("packageHandle"), "packageHandle")
    config = _config(body.get("config"))
    package = store.get_package(account_id, package_handle)
    version = _version_for(account_id, package, body.get("packageVersionHandle"))
    try:
        return store.create_instance(PackageInstance(
            instance_id=uuid.uuid4().hex, account_id=account_id, handle=handle,
            workspace_id=workspace.workspace_id, workspace_handle=workspace.handle,
            package_id=package.package_id, package_handle=package.handle,
            version_id=version.version_id, version_handle=version.handle,
            source_path=version.source_path, source_etag=version.source_etag,
            methods=version.methods, config=config, created_at=""))
    except Conflict:
        if not fetch_if_exists:
            raise
    existing = store.get_instance(account_id, workspace.workspace_id, handle, consistent=True)
    if existing.package_handle != package.handle:
        raise Conflict(f"instance {handle!r} exists already as an instance of package "
                       f"{existing.package_handle!r}", field="handle")
    return existing


def lookup_instance(account_id: str, workspace: Workspace, handle: Any = None,
                    instance_id: Any = None) -> PackageInstance:
    """An instance in the workspace by `handle` or by `id` (one of them is required)."""
    if handle is not None:
        return store.get_instance(account_id, workspace.workspace_id, validate_handle(handle))
    if instance_id is None:
        raise Invalid("handle or id is required", field="handle")
    if not isinstance(instance_id, str):
        raise Invalid("id must be a string", field="id")
    start = None
    while True:
        found, start = store.list_instances(account_id, workspace.workspace_id, 100, start)
        for instance in found:
            if instance.instance_id == instance_id:
                return instance
        if start is None:
            raise NotFound(f"no package instance with id {instance_id!r}", field="id")


def find_instance(account_id: str, workspace: Workspace, handle: str) -> PackageInstance:
    """The instance a method URL names; NotFound for unknown or malformed handles alike."""
    if not HANDLE_PATTERN.match(handle or ""):
        raise NotFound(f"no package instance {handle!r}")
    return store.get_instance(account_id, workspace.workspace_id, handle)


def list_instances(account_id: str, workspace: Workspace,
                   page: PageRequest) -> tuple[list[PackageInstance], str | None]:
    """A page of the workspace's instances."""
    found, last_key = store.list_instances(account_id, workspace.workspace_id, page.size,
                                           page.start)
    return found, next_token(last_key)


def delete_instance(account_id: str, workspace: Workspace, handle: Any = None,
                    instance_id: Any = None) -> PackageInstance:
    """Delete an instance (by handle or id); its finished and running tasks are kept."""
    instance = lookup_instance(account_id, workspace, handle, instance_id)
    store.delete_instance(instance)
    return instance
