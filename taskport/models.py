"""What the SDK answers with: small typed views of each surface's JSON (the JSON itself is in `raw`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FINISHED = ("success", "error")


@dataclass(frozen=True)
class TaskStatus:
    """A task of the task API (/v1): `status` is queued, executing, success or error."""

    key: str
    status: str
    events: dict[str, str] = field(default_factory=dict)
    progress: Any = None
    result: Any = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def of(cls, raw: dict[str, Any]) -> TaskStatus:
        return cls(key=raw.get("key", ""), status=raw.get("status", ""), events=raw.get("events") or {},
                   progress=raw.get("progress"), result=raw.get("result"), raw=raw)


@dataclass(frozen=True)
class StoredFile:
    """A file of the files API (/api/v1/fs)."""

    path: str
    size: int | None = None
    modified: Any = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> StoredFile:
        return cls(path=raw.get("path", ""), size=raw.get("size"), modified=raw.get("modified"), raw=raw)


@dataclass(frozen=True)
class Endpoint:
    """An HTTP endpoint: `path` runs the handler script at `handler_script_path`."""

    id: str
    path: str
    handler_script_path: str
    state: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Endpoint:
        return cls(id=raw.get("id", ""), path=raw.get("path", ""),
                   handler_script_path=raw.get("handler_script_path", ""), state=raw.get("state", ""), raw=raw)


@dataclass(frozen=True)
class EndpointAnswer:
    """What an endpoint's handler answered."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass(frozen=True)
class Workflow:
    """A workflow; `webhook_secret` only right after creation or rotation."""

    handle: str
    name: str
    input_fields: list[str]
    webhook_url: str | None
    mode: str
    webhook_enabled: bool | None = None
    webhook_secret: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Workflow:
        return cls(handle=raw.get("handle", ""), name=raw.get("name", ""), input_fields=raw.get("input_fields") or [],
                   webhook_url=raw.get("webhook_url"), mode=raw.get("mode", ""),
                   webhook_enabled=raw.get("webhook_enabled"), webhook_secret=raw.get("webhook_secret"), raw=raw)


@dataclass(frozen=True)
class WorkflowTask:
    """A workflow task: `status` is open, completed or canceled."""

    id: str
    status: str
    input: dict[str, Any]
    output: Any = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> WorkflowTask:
        return cls(id=raw.get("id", ""), status=(raw.get("status") or {}).get("code", ""),
                   input=raw.get("input") or {}, output=raw.get("output"), raw=raw)


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery and its attempts."""

    id: str
    event: str
    status: str
    attempts: list[dict[str, Any]]
    next_attempt_at: str | None = None
    reason: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Delivery:
        return cls(id=raw.get("id", ""), event=raw.get("event", ""), status=raw.get("status", ""),
                   attempts=raw.get("attempts") or [], next_attempt_at=raw.get("next_attempt_at"),
                   reason=raw.get("reason"), raw=raw)


@dataclass(frozen=True)
class Workspace:
    """A workspace of the account."""

    id: str
    handle: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Workspace:
        return cls(id=raw.get("id", ""), handle=raw.get("handle", ""), raw=raw)


@dataclass(frozen=True)
class Package:
    """A package; its versions hold the code."""

    id: str
    handle: str
    latest_version: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Package:
        return cls(id=raw.get("id", ""), handle=raw.get("handle", ""),
                   latest_version=raw.get("latestVersionHandle"), raw=raw)


@dataclass(frozen=True)
class PackageVersion:
    """A version of a package and the methods found in it."""

    id: str
    handle: str
    package_handle: str
    methods: list[dict[str, Any]]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> PackageVersion:
        return cls(id=raw.get("id", ""), handle=raw.get("handle", ""), package_handle=raw.get("packageHandle", ""),
                   methods=raw.get("methods") or [], raw=raw)


@dataclass(frozen=True)
class PackageInstance:
    """An instance of a package version in a workspace; its methods are invoked."""

    id: str
    handle: str
    package_handle: str
    version_handle: str
    workspace_handle: str
    config: Any = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> PackageInstance:
        return cls(id=raw.get("id", ""), handle=raw.get("handle", ""), package_handle=raw.get("packageHandle", ""),
                   version_handle=raw.get("packageVersionHandle", ""),
                   workspace_handle=raw.get("workspaceHandle", ""), config=raw.get("config"), raw=raw)


@dataclass(frozen=True)
class EngineTask:
    """A background method call: `state` is waiting, running, succeeded or failed."""

    id: str
    state: str
    message: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("succeeded", "failed")

    @classmethod
    def of(cls, raw: dict[str, Any]) -> EngineTask:
        return cls(id=raw.get("taskId", ""), state=raw.get("taskState", ""), message=raw.get("taskMessage"), raw=raw)


@dataclass(frozen=True)
class Invocation:
    """A method call's answer: `value` when it ran at once, `task` when it runs in the background."""

    value: Any = None
    task: EngineTask | None = None
