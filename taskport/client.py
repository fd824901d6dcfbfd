"""`taskport.Client`: every surface of Taskport from Python, over the standard library's HTTP."""
from __future__ import annotations

import base64
import builtins
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from taskport import errors
from taskport.models import (Delivery, Endpoint, EndpointAnswer, EngineTask, Invocation, Package,
                             PackageInstance, PackageVersion, StoredFile, TaskStatus, Workflow, WorkflowTask,
                             Workspace)

DEFAULT_TIMEOUT = 60.0
USER_AGENT = "taskport-python/0.1.0"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, whatever its status."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 302 is an answer here (task files), not something to follow


class Client:
    """One account's view of Taskport: `client.tasks`, `.files`, `.endpoints`, `.workflows`, `.workspaces`,
    `.packages`, `.instances`, `.invoke(...)`, and Taskport's own API (`.native`)."""

    def __init__(self, url: str, *, token: str | None = None, secret_key: str | None = None,
                 api_key: str | None = None, referer: str | None = None, access_key: str | None = None,
                 client_handle: str | None = None, workspace: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.secret_key = secret_key
        self.api_key = api_key
        self.referer = referer
        self.access_key = access_key
        self.client_handle = client_handle
        self.workspace = workspace
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects)
        self.tasks = Tasks(self)
        self.files = Files(self)
        self.endpoints = Endpoints(self)
        self.workflows = Workflows(self)
        self.workspaces = Workspaces(self)
        self.packages = Packages(self)
        self.instances = Instances(self)
        self.native = Native(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Client:
        """A client from TASKPORT_URL, TASKPORT_TOKEN, TASKPORT_SECRET_KEY, TASKPORT_API_KEY,
        TASKPORT_ACCESS_KEY, TASKPORT_CLIENT_HANDLE and TASKPORT_WORKSPACE (what `make dev` prints)."""
        env = os.environ if environ is None else environ
        settings: dict[str, Any] = {name: env.get(f"TASKPORT_{name.upper()}") or None for name in
                    ("token", "secret_key", "api_key", "access_key", "client_handle", "workspace", "referer")}
        settings.update({k: v for k, v in overrides.items() if v is not None})
        url = overrides.get("url") or env.get("TASKPORT_URL") or "http://127.0.0.1:8000"
        settings.pop("url", None)
        return cls(url, **settings)

    # -- HTTP ---------------------------------------------------------------------------------------------

    def _credentials(self, scheme: str | None) -> dict[str, str]:
        if scheme is None:
            return {}
        if scheme == "secret":
            if self.secret_key:
                return {"Authorization": f"Secret {self.secret_key}"}
            if self.api_key:
                return {"Authorization": f"Api-Key {self.api_key}",
                        **({"Referer": self.referer} if self.referer else {})}
            raise errors.Unauthorized("the task API needs secret_key (or api_key with a referer)", surface="tasks")
        if scheme == "basic":
            if not (self.access_key and self.client_handle):
                raise errors.Unauthorized("workflows need client_handle and access_key", surface="workflows")
            pair = f"{self.client_handle}:{self.access_key}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        if not self.token:
            raise errors.Unauthorized("this API needs the account's token", surface=scheme)
        headers = {"Authorization": f"Bearer {self.token}"}
        if scheme == "bearer+workspace" and self.workspace:
            headers["X-Workspace-Handle"] = self.workspace
        return headers

    def request(self, method: str, path: str, *, surface: str, auth: str | None = None,
                query: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None, json_body: Any = None,
                data: bytes | None = None, headers: Mapping[str, str] | None = None,
                ok: tuple[int, ...] = (), timeout: float | None = None) -> Answer:
        """Send one request; an error status raises the surface's typed error unless listed in `ok`."""
        url = self.url + path
        if query:
            pairs = query.items() if isinstance(query, Mapping) else query
            url += "?" + urllib.parse.urlencode([(k, _query_value(v)) for k, v in pairs if v is not None],
                                                doseq=True)
        sent = {"User-Agent": USER_AGENT, "Accept": "application/json, */*", **self._credentials(auth),
                **(headers or {})}
        if json_body is not None:
            data = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(url, data=data, method=method, headers=sent)
        try:
            with self._opener.open(request, timeout=timeout or self.timeout) as response:
                answer = Answer(response.status, dict(response.headers.items()), response.read())
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, dict(error.headers.items()), error.read())
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise errors.ConnectionFailed(f"cannot reach {self.url}: {reason}", surface=surface) from error
        if answer.status >= 400 and answer.status not in ok:
            try:
                body = answer.json()
            except ValueError:
                body = answer.body.decode("utf-8", errors="replace")
            raise errors.from_answer(answer.status, body, surface)
        return answer

    # -- packages: method calls ---------------------------------------------------------------------------

    def invoke(self, workspace: str, instance: str, method: str, arguments: Mapping[str, Any] | None = None,
               *, background: bool = False) -> Invocation:
        """Call a package instance's method; a background call answers with its `task`."""
        answer = self.request("POST", f"/{_seg(workspace)}/{_seg(instance)}/{_seg(method)}", surface="packages",
                              auth="bearer", json_body=dict(arguments or {}),
                              query={"background": "true"} if background else None).json()
        if isinstance(answer, dict) and "task" in answer and "data" not in answer:
            return Invocation(task=EngineTask.of(answer["task"]))
        return Invocation(value=answer.get("data") if isinstance(answer, dict) else answer)


def _seg(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _definition(task_type: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return {"task_name": task_type, **params}


class Tasks:
    """The task API (/v1): create tasks, wait for them, stream their statuses, fetch their files."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, task_type: str, /, *, block: bool = False, **params: Any) -> TaskStatus:
        """Create one task of `task_type` with `params`; `block` waits (up to the server's 25 s)."""
        return self.create_many([_definition(task_type, params)], block=block)[0]

    def create_many(self, definitions: Iterable[Mapping[str, Any]], *, block: bool = False) -> list[TaskStatus]:
        """Create tasks from `{"task_name": ..., **params}` definitions, in one request."""
        answer = self._client.request("POST", "/v1/create", surface="tasks", auth="secret", json_body={
            "tasks": [dict(d) for d in definitions], "block": block}, timeout=self._client.timeout)
        return [TaskStatus.of(raw) for raw in answer.json()]

    def status(self, *keys: str, block: bool = False) -> list[TaskStatus]:
        """The statuses of tasks by key (no credentials needed for engine keys)."""
        answer = self._client.request("GET", "/v1/status", surface="tasks", auth=self._auth(),
                                      query=[("tasks", list(keys)), ("block", block or None)])
        return [TaskStatus.of(raw) for raw in answer.json()]

    def get(self, key: str) -> TaskStatus:
        """One task's status."""
        return self.status(key)[0]

    def wait(self, *keys: str, timeout: float = 300.0, raise_on_error: bool = False) -> list[TaskStatus]:
        """Wait until every task finished (each server wait lasts up to 25 s); WaitTimedOut after `timeout`."""
        deadline = time.monotonic() + timeout
        statuses = self.status(*keys)
        while not all(s.finished for s in statuses):
            if time.monotonic() >= deadline:
                raise errors.WaitTimedOut(f"{sum(not s.finished for s in statuses)} of {len(keys)} tasks "
                                          f"still running after {timeout:g} s", statuses)
            statuses = self.status(*keys, block=True)
        if raise_on_error:
            for status in statuses:
                if status.status == "error":
                    raise errors.TaskFailed(f"task {status.key} failed: {status.result}", status)
        return statuses

    def run(self, task_type: str, /, *, timeout: float = 300.0, **params: Any) -> Any:
        """Create one task, wait for it and return its result; TaskFailed when it ends in error."""
        created = self.create(task_type, **params)
        return self.wait(created.key, timeout=timeout, raise_on_error=True)[0].result

    def stream(self, definitions: Iterable[Mapping[str, Any]]) -> Iterator[TaskStatus]:
        """Create tasks and yield their statuses: first one per task, then each change."""
        answer = self._client.request("POST", "/v1/create_stream", surface="tasks", auth="secret",
                                      json_body={"tasks": [dict(d) for d in definitions]})
        yield from _ndjson_statuses(answer.body)

    def watch(self, *keys: str) -> Iterator[TaskStatus]:
        """Yield the tasks' statuses, then each change, until all finished or the server's wait ended."""
        answer = self._client.request("GET", "/v1/status_stream", surface="tasks", auth=self._auth(),
                                      query=[("tasks", list(keys))])
        yield from _ndjson_statuses(answer.body)

    def file(self, task_type: str, /, *, filename: str | None = None, **params: Any) -> str:
        """Create a task, wait, and return the URL of its output file; TaskFailed when the task failed."""
        path = "/v1/create_file" + (f"/{_seg(filename)}" if filename else "")
        answer = self._client.request("POST", path, surface="tasks", auth="secret", ok=(400,),
                                      json_body={"task": _definition(task_type, params)})
        return self._location(answer, filename)

    def file_url(self, key: str, filename: str | None = None) -> str:
        """The URL of a finished task's output file (waits for the task, as /v1/file does)."""
        path = "/v1/file" + (f"/{_seg(filename)}" if filename else "")
        answer = self._client.request("GET", path, surface="tasks", auth=self._auth(), ok=(400,),
                                      query={"task": key})
        return self._location(answer, filename)

    def create_file_url(self, task_type: str, /, *, filename: str | None = None, **params: Any) -> str:
        """A GET URL that creates the task and redirects to its file: for an `<img src>` (uses the api key)."""
        key = self._client.api_key or self._client.secret_key
        name = "api_key" if self._client.api_key else "secret"
        path = "/v1/create_file" + (f"/{_seg(filename)}" if filename else "")
        query = urllib.parse.urlencode({"task_name": task_type, **{k: _query_value(v) for k, v in params.items()},
                                        name: key})
        return f"{self._client.url}{path}?{query}"

    def _location(self, answer: Answer, filename: str | None) -> str:
        if answer.status == 400:
            status = TaskStatus.of(answer.json() or {})
            raise errors.TaskFailed(f"task {status.key} failed: {status.result}", status)
        location = answer.headers.get("Location") or answer.headers.get("location") or ""
        if answer.status == 302 and answer.body.strip():  # the wait ended first: follow the retry link
            status = TaskStatus.of(answer.json())
            return self.file_url(status.key, filename)
        return urllib.parse.urljoin(self._client.url + "/v1/", location)

    def _auth(self) -> str | None:
        return "secret" if (self._client.secret_key or self._client.api_key) else None


def _ndjson_statuses(body: bytes) -> Iterator[TaskStatus]:
    for index, line in enumerate(body.decode().splitlines()):
        if not line.strip():
            continue
        value = json.loads(line)
        if index == 0 and isinstance(value, list):
            yield from (TaskStatus.of(raw) for raw in value)
        else:
            yield TaskStatus.of(value)


class Files:
    """The files API (/api/v1/fs): handler scripts and other files of the account."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def put(self, path: str, content: bytes | str, content_type: str = "application/octet-stream") -> StoredFile:
        """Store `content` at `path` (replacing what was there)."""
        data = content.encode() if isinstance(content, str) else content
        answer = self._client.request("PUT", "/api/v1/fs/files", surface="files", auth="bearer",
                                      query={"path": path}, data=data, headers={"Content-Type": content_type})
        return StoredFile.of(answer.json())

    def get(self, path: str) -> bytes:
        """The file's bytes."""
        return self._client.request("GET", "/api/v1/fs/files", surface="files", auth="bearer",
                                    query={"path": path}).body

    def delete(self, path: str) -> None:
        """Delete the file."""
        self._client.request("DELETE", "/api/v1/fs/files", surface="files", auth="bearer", query={"path": path})

    def list(self, prefix: str = "/", *, page_size: int | None = None) -> Iterator[StoredFile]:
        """Every file under `prefix`, page after page."""
        cursor = None
        while True:
            answer = self._client.request("GET", "/api/v1/fs/list", surface="files", auth="bearer",
                                          query={"prefix": prefix, "limit": page_size, "cursor": cursor}).json()
            yield from (StoredFile.of(raw) for raw in answer.get("files", []))
            cursor = answer.get("cursor")
            if not cursor:
                return


class Endpoints:
    """HTTP endpoints (/api/v1/http-endpoint): a path that runs a handler script in the sandbox."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, endpoint_id: str, path: str, handler_script_path: str, *, enabled: bool = True) -> Endpoint:
        """Create an endpoint; Conflict when the id or the path is taken."""
        self._client.request("PUT", f"/api/v1/http-endpoint/{_seg(endpoint_id)}", surface="endpoints",
                             auth="bearer", json_body={"path": path, "handler_script_path": handler_script_path,
                                                       "state": "ENABLED" if enabled else "DISABLED"})
        return self.get(endpoint_id)

    def update(self, endpoint_id: str, **changes: Any) -> Endpoint:
        """Change `path`, `handler_script_path` or `state` (ENABLED/DISABLED)."""
        self._client.request("PATCH", f"/api/v1/http-endpoint/{_seg(endpoint_id)}", surface="endpoints",
                             auth="bearer", json_body=changes)
        return self.get(endpoint_id)

    def get(self, endpoint_id: str) -> Endpoint:
        """One endpoint."""
        return Endpoint.of(self._client.request("GET", f"/api/v1/http-endpoint/{_seg(endpoint_id)}",
                                                surface="endpoints", auth="bearer").json())

    def delete(self, endpoint_id: str) -> None:
        """Delete an endpoint."""
        self._client.request("DELETE", f"/api/v1/http-endpoint/{_seg(endpoint_id)}", surface="endpoints",
                             auth="bearer")

    def list(self, *, page_size: int = 100, **filters: Any) -> Iterator[Endpoint]:
        """Every endpoint matching `filters` (path, handler, state), page after page."""
        offset = 0
        while True:
            found = self._client.request("GET", "/api/v1/http-endpoint/list", surface="endpoints", auth="bearer",
                                         query={**filters, "offset": offset, "limit": page_size}).json()
            page = found.get("endpoints", [])
            yield from (Endpoint.of(raw) for raw in page)
            if len(page) < page_size:
                return
            offset += len(page)

    def deploy(self, endpoint_id: str, path: str, source: str | bytes, *,
               script_path: str | None = None) -> Endpoint:
        """Store `source` as the handler script and point the endpoint at it (created or updated)."""
        script_path = script_path or f"/scripts/{endpoint_id}.py"
        self._client.files.put(script_path, source, "text/x-python")
        try:
            return self.create(endpoint_id, path, script_path)
        except errors.Conflict:
            return self.update(endpoint_id, path=path, handler_script_path=script_path, state="ENABLED")

    def call(self, path: str, *, method: str = "GET", query: Mapping[str, Any] | None = None,
             json_body: Any = None, data: bytes | None = None,
             headers: Mapping[str, str] | None = None) -> EndpointAnswer:
        """Call an endpoint's handler; its own status comes back (errors of the platform raise)."""
        answer = self._client.request(method.upper(), f"/api/v1/http-endpoint/u/{path.lstrip('/')}",
                                      surface="endpoints", auth="bearer", query=query, json_body=json_body,
                                      data=data, headers=headers, ok=tuple(range(400, 500)))
        return EndpointAnswer(answer.status, answer.headers, answer.body)


class Workflows:
    """Workflows (/workflows): their tasks, and the signed webhooks that report them."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _request(self, method: str, path: str, **kwargs: Any) -> Answer:
        return self._client.request(method, path, surface="workflows", auth="basic", **kwargs)

    def put(self, handle: str, *, name: str, input_fields: list[str], webhook_url: str | None = None,
            handler_script_path: str | None = None) -> Workflow:
        """Create or update a workflow; the answer carries `webhook_secret` on creation."""
        body: dict[str, Any] = {"name": name, "input_fields": input_fields, "webhook_url": webhook_url}
        if handler_script_path:
            body["handler_script_path"] = handler_script_path
        return Workflow.of(self._request("PUT", f"/workflows/{_seg(handle)}", json_body=body).json())

    def get(self, handle: str) -> Workflow:
        """One workflow."""
        return Workflow.of(self._request("GET", f"/workflows/{_seg(handle)}").json())

    def list(self) -> builtins.list[Workflow]:
        """The account's workflows."""
        return [Workflow.of(raw) for raw in self._request("GET", "/workflows").json().get("workflows", [])]

    def rotate_secret(self, handle: str) -> Workflow:
        """A new webhook signing secret (in `webhook_secret`)."""
        return Workflow.of(self._request("POST", f"/workflows/{_seg(handle)}/webhook-secret/rotate").json())

    def create_task(self, handle: str, task_id: str, task_input: Mapping[str, Any]) -> WorkflowTask:
        """Create a task with this id (the same id again answers the existing task)."""
        return WorkflowTask.of(self._request("PUT", f"/workflows/{_seg(handle)}/tasks/{_seg(task_id)}",
                                             json_body={"input": dict(task_input)}).json())

    def task(self, handle: str, task_id: str) -> WorkflowTask:
        """One task."""
        return WorkflowTask.of(self._request("GET", f"/workflows/{_seg(handle)}/tasks/{_seg(task_id)}").json())

    def tasks(self, handle: str, *, status: str = "all", page_size: int | None = None) -> Iterator[WorkflowTask]:
        """Every task of the workflow with this status (open, completed, canceled, all), page after page."""
        cursor = None
        while True:
            answer = self._request("GET", f"/workflows/{_seg(handle)}/tasks",
                                   query={"status": status, "limit": page_size, "cursor": cursor}).json()
            yield from (WorkflowTask.of(raw) for raw in answer.get("tasks", []))
            cursor = answer.get("cursor")
            if not cursor:
                return

    def complete(self, handle: str, task_id: str, output: Mapping[str, Any]) -> WorkflowTask:
        """Complete a task with its output; its webhook is sent."""
        return WorkflowTask.of(self._request("POST", f"/workflows/{_seg(handle)}/tasks/{_seg(task_id)}/complete",
                                             json_body={"output": dict(output)}).json())

    def cancel(self, handle: str, task_id: str) -> WorkflowTask:
        """Cancel a task."""
        return WorkflowTask.of(self._request("DELETE", f"/workflows/{_seg(handle)}/tasks/{_seg(task_id)}").json())

    def deliveries(self, handle: str, task_id: str) -> builtins.list[Delivery]:
        """Every webhook delivery of the task, with its attempts."""
        answer = self._request("GET", f"/workflows/{_seg(handle)}/tasks/{_seg(task_id)}/deliveries").json()
        return [Delivery.of(raw) for raw in answer.get("deliveries", [])]

    def replay(self, handle: str, task_id: str) -> Delivery:
        """Send the task's last webhook again."""
        return Delivery.of(self._request(
            "POST", f"/workflows/{_seg(handle)}/tasks/{_seg(task_id)}/deliveries/replay").json())


def _paged(client: Client, path: str, key: str, body: Mapping[str, Any], page_size: int | None,
           auth: str = "bearer") -> Iterator[dict[str, Any]]:
    token = None
    while True:
        request = {**body, **({"pageSize": page_size} if page_size else {}), **({"pageToken": token} if token else {})}
        data = client.request("POST", path, surface="packages", auth=auth, json_body=request).json()["data"]
        yield from data.get(key, [])
        token = data.get("nextPageToken")
        if not token:
            return


class Workspaces:
    """Workspaces (/api/v1/workspace): where package instances live."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _data(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._client.request("POST", path, surface="packages", auth="bearer",
                                    json_body=dict(body)).json()["data"]

    def create(self, handle: str, *, fetch_if_exists: bool = False) -> Workspace:
        """Create a workspace (or answer the existing one with `fetch_if_exists`)."""
        return Workspace.of(self._data("/api/v1/workspace/create",
                                       {"handle": handle, "fetchIfExists": fetch_if_exists})["workspace"])

    def get(self, handle: str) -> Workspace:
        """One workspace."""
        return Workspace.of(self._data("/api/v1/workspace/get", {"handle": handle})["workspace"])

    def delete(self, handle: str) -> Workspace:
        """Delete a workspace and its instances."""
        return Workspace.of(self._data("/api/v1/workspace/delete", {"handle": handle})["workspace"])

    def list(self, *, page_size: int | None = None) -> Iterator[Workspace]:
        """Every workspace, page after page."""
        yield from (Workspace.of(raw) for raw in _paged(self._client, "/api/v1/workspace/list", "workspaces", {},
                                                        page_size))


class Packages:
    """Packages and their versions (/api/v1/package)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _data(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._client.request("POST", path, surface="packages", auth="bearer",
                                    json_body=dict(body)).json()["data"]

    def create(self, handle: str, *, fetch_if_exists: bool = False) -> Package:
        """Create a package (or answer the existing one with `fetch_if_exists`)."""
        return Package.of(self._data("/api/v1/package/create",
                                     {"handle": handle, "fetchIfExists": fetch_if_exists})["package"])

    def get(self, handle: str) -> Package:
        """One package."""
        return Package.of(self._data("/api/v1/package/get", {"handle": handle})["package"])

    def list(self, *, page_size: int | None = None) -> Iterator[Package]:
        """Every package, page after page."""
        yield from (Package.of(raw) for raw in _paged(self._client, "/api/v1/package/list", "packages", {},
                                                      page_size))

    def create_version(self, package: str, handle: str, source: str) -> PackageVersion:
        """A new version from `source`; it becomes the package's latest."""
        return PackageVersion.of(self._data("/api/v1/package/version/create", {
            "packageHandle": package, "handle": handle, "source": source})["packageVersion"])

    def version(self, package: str, handle: str) -> PackageVersion:
        """One version."""
        return PackageVersion.of(self._data("/api/v1/package/version/get",
                                            {"packageHandle": package, "handle": handle})["packageVersion"])

    def versions(self, package: str, *, page_size: int | None = None) -> Iterator[PackageVersion]:
        """Every version of the package, page after page."""
        yield from (PackageVersion.of(raw) for raw in _paged(
            self._client, "/api/v1/package/version/list", "packageVersions", {"packageHandle": package}, page_size))

    def task(self, task_id: str) -> tuple[EngineTask, Any]:
        """A background call's task and (once it succeeded) its result."""
        answer = self._client.request("POST", "/api/v1/task/status", surface="packages", auth="bearer",
                                      json_body={"taskId": task_id}).json()
        return EngineTask.of(answer["task"]), answer.get("data")

    def wait(self, task_id: str, *, timeout: float = 300.0, interval: float = 0.5) -> Any:
        """Wait for a background call and return its result; TaskFailed when it failed."""
        deadline = time.monotonic() + timeout
        while True:
            task, data = self.task(task_id)
            if task.state == "succeeded":
                return data
            if task.state == "failed":
                raise errors.TaskFailed(f"task {task_id} failed: {task.message}", task)
            if time.monotonic() >= deadline:
                raise errors.WaitTimedOut(f"task {task_id} still {task.state} after {timeout:g} s", [task])
            time.sleep(interval)
            interval = min(interval * 1.5, 5.0)


class Instances:
    """Package instances (/api/v1/package/instance), in the client's workspace (X-Workspace-Handle)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _data(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._client.request("POST", path, surface="packages", auth="bearer+workspace",
                                    json_body=dict(body)).json()["data"]

    def create(self, package: str, handle: str, *, version: str | None = None, config: Mapping[str, Any] | None = None,
               fetch_if_exists: bool = False) -> PackageInstance:
        """An instance of the package's version (default: its latest)."""
        body: dict[str, Any] = {"packageHandle": package, "handle": handle, "fetchIfExists": fetch_if_exists}
        if version:
            body["packageVersionHandle"] = version
        if config is not None:
            body["config"] = dict(config)
        return PackageInstance.of(self._data("/api/v1/package/instance/create", body)["packageInstance"])

    def get(self, handle: str) -> PackageInstance:
        """One instance."""
        return PackageInstance.of(self._data("/api/v1/package/instance/get", {"handle": handle})["packageInstance"])

    def delete(self, handle: str) -> PackageInstance:
        """Delete an instance."""
        return PackageInstance.of(self._data("/api/v1/package/instance/delete",
                                             {"handle": handle})["packageInstance"])

    def list(self, *, page_size: int | None = None) -> Iterator[PackageInstance]:
        """Every instance in the workspace, page after page."""
        yield from (PackageInstance.of(raw) for raw in _paged(
            self._client, "/api/v1/package/instance/list", "packageInstances", {}, page_size, "bearer+workspace"))


class Native:
    """Taskport's own API (/taskport/v1): the account's tasks, runs and task types, as JSON."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def get(self, path: str, **query: Any) -> Any:
        """GET /taskport/v1/<path> with `query`."""
        return self._client.request("GET", f"/taskport/v1/{path.lstrip('/')}", surface="taskport", auth="bearer",
                                    query=query).json()

    def tasks(self, *, status: str | None = None, task_type: str | None = None,
              page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """The account's tasks, newest first, page after page (status: comma-separated states)."""
        yield from self.paged("tasks", "tasks", status=status, type=task_type, limit=page_size)

    def task(self, key: str) -> dict[str, Any]:
        """One task with its events and runs."""
        found: dict[str, Any] = self.get(f"tasks/{_seg(key)}")
        return found

    def cancel_task(self, key: str) -> dict[str, Any]:
        """Cancel a queued or running task."""
        answer: dict[str, Any] = self._client.request("POST", f"/taskport/v1/tasks/{_seg(key)}/cancel",
                                                      surface="taskport", auth="bearer").json()
        return answer

    def runs(self, *, page_size: int | None = None, **filters: Any) -> Iterator[dict[str, Any]]:
        """Run records (filters: endpoint, task, instance, workflow, kind, status), newest first."""
        yield from self.paged("runs", "runs", limit=page_size, **filters)

    def run(self, run_id: str) -> dict[str, Any]:
        """One run record: status, duration, stdout, stderr and, on failure, the traceback."""
        found: dict[str, Any] = self.get(f"runs/{_seg(run_id)}")
        return found

    def task_types(self) -> builtins.list[dict[str, Any]]:
        """The task types the account can create (built-ins and its own)."""
        found: builtins.list[dict[str, Any]] = self.get("task-types").get("task_types", [])
        return found

    def put_task_type(self, name: str, script_path: str, *, description: str | None = None,
                      params_schema: Mapping[str, Any] | None = None,
                      files: builtins.list[str] | None = None) -> dict[str, Any]:
        """Create or replace an account task type run by the script at `script_path`."""
        body: dict[str, Any] = {"script_path": script_path}
        for key, value in (("description", description), ("params_schema", params_schema), ("files", files)):
            if value is not None:
                body[key] = value
        answer: dict[str, Any] = self._client.request("PUT", f"/taskport/v1/task-types/{_seg(name)}",
                                                      surface="taskport", auth="bearer", json_body=body).json()
        return answer

    def delete_task_type(self, name: str) -> None:
        """Delete an account task type."""
        self._client.request("DELETE", f"/taskport/v1/task-types/{_seg(name)}", surface="taskport", auth="bearer")

    def paged(self, path: str, key: str, **query: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paged list: `key` holds a page, `cursor` (or `next_cursor`) the next one."""
        cursor = None
        while True:
            page = self.get(path, **query, cursor=cursor)
            yield from page.get(key, [])
            cursor = page.get("cursor") or page.get("next_cursor")
            if not cursor:
                return
