"""Calling a Steamship package bundle in the sandbox: the event the Steamship engine sends, the
bundle's bytes only when the sandbox has not unpacked it yet, and its InvocableResponse read back.

No credential reaches package code: the SDK needs a key to build its client object, so it gets
a placeholder that opens nothing, and an API base where nothing listens.
"""
from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from chalicelib import runs, sandbox
from chalicelib.errors import Conflict, NotFound
from chalicelib.packages import storage
from chalicelib.packages.errors import MethodFailed

PLACEHOLDER_KEY = "taskport-placeholder-opens-nothing"
PLACEHOLDER_BASE = "http://127.0.0.1:9/"  # the discard port: nothing answers there
DESCRIBE_PATH = "/__dir__"
DESCRIBE_SECONDS = 60.0  # a first import of the SDK from a fresh bundle is slow


class Target(NamedTuple):
    """Which bundle to run and for whom (what the Steamship engine puts in its context)."""

    account_id: str
    path: str
    etag: str
    version_id: str
    workspace: str = "default"
    package: str = ""
    version: str = ""
    instance: str = ""


def event(target: Target, verb: str, path: str, arguments: dict[str, Any],
          config: dict[str, Any]) -> dict[str, Any]:
    """The event the SDK's `safe_handler` takes, shaped as the Steamship engine sends it."""
    return {
        "invocation": {"httpVerb": verb, "invocationPath": path, "arguments": arguments,
                       "config": config},
        "invocationContext": {"tenantId": target.account_id, "userId": target.account_id,
                              "workspaceId": target.workspace, "workspaceHandle": target.workspace,
                              "invocableHandle": target.package,
                              "invocableVersionHandle": target.version,
                              "invocableInstanceHandle": target.instance,
                              "invocableType": "package", "invocableOwnerId": target.account_id},
        "loggingConfig": {"loggingHost": "none", "loggingPort": "none"},
        "clientConfig": {"apiKey": PLACEHOLDER_KEY, "apiBase": f"{PLACEHOLDER_BASE}api/v1/",
                         "appBase": PLACEHOLDER_BASE, "webBase": PLACEHOLDER_BASE,
                         "workspaceId": target.workspace, "workspaceHandle": target.workspace},
    }


def _key(target: Target) -> str:
    return f"{target.version_id}-{hashlib.sha256(target.etag.encode()).hexdigest()[:16]}"


def _bundle_bytes(target: Target) -> bytes:
    try:
        return storage.read(target.account_id, target.path, target.etag)
    except (NotFound, Conflict) as exc:
        raise Conflict(f"the bundle of package {target.package!r} version {target.version!r} "
                       f"is not the one it was built with: {exc.message}") from exc


def call(target: Target, payload: dict[str, Any], limits: sandbox.Limits,
         bundle: bytes | None = None) -> dict[str, Any]:
    """The SDK's answer (InvocableResponse as a dict) for one event; the call's report goes to
    the run being recorded."""
    answer: dict[str, Any] = sandbox.run_bundle(
        _key(target), payload, lambda: bundle or _bundle_bytes(target), limits,
        on_report=runs.on_report,
        locate=lambda: (storage.presigned_url(target.account_id, target.path), target.etag))
    return answer


def value(answer: dict[str, Any]) -> Any:
    """The method's value; MethodFailed with the package's message and code when it failed."""
    status = answer.get("status")
    if isinstance(status, dict) and status.get("state") == "failed":
        http = answer.get("http")
        code = http.get("status") if isinstance(http, dict) else None
        raise MethodFailed(str(status.get("statusMessage") or "the package method failed"),
                           code=str(status["statusCode"]) if status.get("statusCode") else None,
                           status_code=code if isinstance(code, int) and 400 <= code <= 599
                           else 500)
    return answer.get("data")


def describe(target: Target, bundle: bytes) -> Any:
    """The package's PackageSpec (methods, verbs, arguments), from api.py loaded in the sandbox."""
    answer = call(target, event(target, "POST", DESCRIBE_PATH, {}, {}),
                  sandbox.Limits(wall_seconds=DESCRIBE_SECONDS), bundle)
    return value(answer)
