"""Workflows and their tasks: definitions, client-GUID tasks on the engine, completion, webhooks.

A workflow task is an engine task whose key is derived from account, workflow and the client's
GUID, so creating it is the engine's one conditional write and a repeated PUT finds it. It is
never queued for a worker: it stays open until it is completed or canceled. An automated
workflow adds a run (task type `workflow.script`) that executes the workflow's script in the
sandbox and completes the workflow task with its output; when the script fails, only the run
ends in error and the workflow task stays open for a person. Finishing a workflow task
(completed or canceled) starts a webhook delivery through the engine's finish hook.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from typing import Any, NamedTuple

from chalicelib import egress, files
from chalicelib.config import get_settings
from chalicelib.engine import hooks, registry
from chalicelib.engine import tasks as engine
from chalicelib.errors import Conflict, Forbidden, Gone, Invalid, InvalidInput, PayloadTooLarge
from chalicelib.models import workflows as store
from chalicelib.models.base import now
from chalicelib.models.webhooks import Delivery
from chalicelib.models.workflows import Workflow
from chalicelib.webhooks import delivery as webhooks
from chalicelib.webhooks import signing

log = logging.getLogger("taskport.workflows")

HANDLE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
GUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                          r"[0-9a-fA-F]{12}$")
WORKFLOW_TASK = "workflow.task"
CANCELABLE_STATES = ("queued", "executing")
ROTATION_GRACE = dt.timedelta(hours=24)
MAX_FIELDS = 200
MAX_NAME = 200
CACHE_SIZE = 1024


class TaskCanceled(Forbidden):
    """The task was canceled; it can be neither read nor created again (403)."""


class NotCancelable(Forbidden):
    """The task is completed or canceled already (403)."""


class TaskFinished(Forbidden):
    """The task is completed or canceled already and cannot be completed (403)."""


class SavedWorkflow(NamedTuple):
    """A workflow just created or updated; `secret` is set only when it was created."""

    workflow: Workflow
    created: bool
    secret: str | None


def validate_handle(handle: str) -> str:
    """A workflow handle: 1-64 of letters, digits, '_' and '-', starting with a letter or digit."""
    if not HANDLE_PATTERN.match(handle or ""):
        raise Invalid("must be 1-64 letters, digits, '_' or '-', starting with a letter or digit",
                      field="handle")
    return handle


def normalize_task_id(task_id: str) -> str:
    """A task id is a GUID chosen by the client (8-4-4-4-12 hex digits), kept in lower case."""
    if not GUID_PATTERN.match(task_id or ""):
        raise Invalid("must be a GUID such as 1cbe149a-59f2-425f-ac02-2d0ea3e3a7fe", field="id")
    return task_id.lower()


def _validate_definition(body: dict[str, Any]) -> dict[str, Any]:
    problems: dict[str, str] = {}
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        problems["name"] = f"required: a non-empty string of at most {MAX_NAME} characters"
    fields = body.get("input_fields", [])
    if not isinstance(fields, list) or len(fields) > MAX_FIELDS or not all(
            isinstance(f, str) and f.strip() for f in fields) or len(set(fields)) != len(fields):
        problems["input_fields"] = (f"must be a list of at most {MAX_FIELDS} distinct, "
                                    "non-empty field names")
    url = body.get("webhook_url")
    if not isinstance(url, str) or not url:
        problems["webhook_url"] = "required: the http(s) URL that receives task events"
    else:
        try:
            egress.check_url(url)
        except egress.Refused as exc:
            problems["webhook_url"] = exc.message
    script = body.get("handler_script_path")
    if script is not None:
        try:
            files.validate_path(script, "handler_script_path")
        except Invalid as exc:
            problems["handler_script_path"] = exc.message
    if problems:
        raise Invalid("invalid workflow definition", details={"data": problems})
    return {"name": name.strip(), "input_fields": list(fields), "webhook_url": url,
            "handler_script_path": script or None}


class _DefinitionCache:
    """Workflow definitions for task creation, kept per warm process for a few seconds.

    Creating a task needs the workflow's input fields; caching them keeps a new task at one
    write. A change is seen at once in the process that made it and within
    `workflow_cache_seconds` elsewhere. Webhook sending never uses this cache.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, Workflow]] = {}
        self._lock = threading.Lock()

    def get(self, account_id: str, handle: str) -> Workflow:
        key = (account_id, handle)
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        workflow = store.get_workflow(account_id, handle)
        with self._lock:
            if len(self._entries) >= CACHE_SIZE:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + get_settings().workflow_cache_seconds,
                                  workflow)
        return workflow

    def forget(self, account_id: str, handle: str) -> None:
        with self._lock:
            self._entries.pop((account_id, handle), None)


definitions = _DefinitionCache()


def save_workflow(account_id: str, handle: str, body: dict[str, Any]) -> SavedWorkflow:
    """Create or replace a workflow's definition; a new one gets its signing secret."""
    validate_handle(handle)
    definition = _validate_definition(body)
    secret = signing.new_secret()
    workflow, created = store.put_workflow(account_id, handle, new_secret=secret, **definition)
    definitions.forget(account_id, handle)
    return SavedWorkflow(workflow, created, secret if created else None)


def get_workflow(account_id: str, handle: str) -> Workflow:
    """The account's workflow, or NotFound."""
    return store.get_workflow(account_id, handle)


def list_workflows(account_id: str) -> list[Workflow]:
    """Every workflow of the account."""
    return store.list_workflows(account_id)


def rotate_secret(account_id: str, handle: str) -> tuple[Workflow, str]:
    """A new signing secret; the old one also signs for ROTATION_GRACE, then stops."""
    secret = signing.new_secret()
    return store.rotate_secret(account_id, handle, secret, now() + ROTATION_GRACE), secret


def task_key(account_id: str, handle: str, task_id: str) -> str:
    """The engine key of a workflow task (client-chosen keys are not capabilities)."""
    return f"wf:{account_id}:{handle}:{task_id}"


def group(handle: str) -> str:
    """The engine group that lists a workflow's tasks."""
    return f"wf:{handle}"


def _validate_input(workflow: Workflow, task_input: Any) -> dict[str, Any]:
    if task_input is None:
        raise Invalid("input is required", details={"data": {
            "input": "Required: the name/value pairs of the task's input."}})
    if not isinstance(task_input, dict):
        raise Invalid("input must be an object", details={"data": {
            "input": "Must be an object of name/value pairs."}})
    missing = {field: "Required field not found." for field in workflow.input_fields
               if task_input.get(field) in (None, "")}
    if missing:
        raise InvalidInput("invalid task input", details={"data": missing})
    limit = get_settings().max_task_input_bytes
    size = len(json.dumps(task_input).encode("utf-8"))
    if size > limit:
        raise PayloadTooLarge(f"the task input is {size} bytes; the limit is {limit}")
    return task_input


def create_task(account_id: str, workspace: str, handle: str, task_id: str,
                task_input: Any) -> tuple[Any, bool]:
    """Create a workflow task; (task, True) when new, (existing, False) for a repeated PUT.

    The same id with other input is a Conflict; the id of a canceled task is TaskCanceled.
    """
    task_id = normalize_task_id(task_id)
    workflow = definitions.get(account_id, handle)
    task_input = _validate_input(workflow, task_input)
    params = {"input": task_input, "workflow": handle, "task_id": task_id}
    if workflow.automated:
        params["script"] = workflow.handler_script_path
    # An automated workflow's task is queued for task_worker, which runs its script; a manual
    # one is not queued and waits for a person. Either way one conditional write creates it.
    spec = engine.TaskSpec(
        task_type=WORKFLOW_TASK, key=task_key(account_id, handle, task_id),
        enqueue=workflow.automated, params=params, group=group(handle),
        notify={"webhook": {"workflow": handle, "task_id": task_id}})
    try:
        return engine.create_tasks(account_id, workspace, [spec])[0], True
    except Conflict as exc:
        existing = exc.details.get("existing")
        if existing is None:
            raise
    if existing.status == "canceled":
        raise TaskCanceled(f"task {task_id} is canceled")
    if (existing.params or {}).get("input") != task_input:
        raise Conflict(f"task {task_id} exists with other input")
    return existing, False


def get_task(account_id: str, handle: str, task_id: str) -> Any:
    """A workflow task; TaskCanceled once it is canceled (as the seed's GET table says)."""
    task = engine.get_task(task_key(account_id, handle, normalize_task_id(task_id)), account_id)
    if task.status == "canceled":
        raise TaskCanceled(f"task {task_id} is canceled")
    return task


def cancel_task(account_id: str, handle: str, task_id: str) -> Any:
    """Cancel an open task; NotCancelable when it is completed or canceled already."""
    key = task_key(account_id, handle, normalize_task_id(task_id))
    try:
        return engine.cancel_task(key, account_id)
    except Gone as exc:
        raise NotCancelable(f"task {task_id} is not cancelable") from exc


def complete_task(account_id: str, handle: str, task_id: str, output: Any) -> Any:
    """A person completes an open task with its output (an object of name/value pairs)."""
    key = task_key(account_id, handle, normalize_task_id(task_id))
    if not isinstance(output, dict):
        raise Invalid("output must be an object", details={"data": {
            "output": "Required: an object of name/value pairs."}})
    try:
        return engine.complete_task(key, account_id, output)
    except Gone as exc:
        raise TaskFinished(f"task {task_id} is already completed or canceled") from exc


def list_tasks(account_id: str, workspace: str, handle: str, status: tuple[str, ...] | None,
               limit: int | None, cursor: str | None) -> tuple[list[Any], str | None]:
    """A page of the workflow's tasks, optionally only those in the given engine states."""
    definitions.get(account_id, handle)
    return engine.list_tasks(account_id, workspace, group(handle), status, limit, cursor)


def list_deliveries(account_id: str, handle: str, task_id: str) -> list[Delivery]:
    """Every webhook delivery of a task, with its attempts."""
    key = task_key(account_id, handle, normalize_task_id(task_id))
    engine.get_task(key, account_id)
    return webhooks.list_deliveries(key)


def replay(account_id: str, handle: str, task_id: str) -> Delivery:
    """Send the task's event again (same webhook-id); only a completed or canceled task has one."""
    task_id = normalize_task_id(task_id)
    task = engine.get_task(task_key(account_id, handle, task_id), account_id)
    event = webhooks.event_of(task)
    if event is None:
        raise Invalid("the task has no event to send yet", details={"data": {
            "id": "The task is open: only completed or canceled tasks send webhooks."}})
    return webhooks.start_delivery(task, handle, task_id, event)


def _notify_on_finish(task: Any) -> None:
    target = (task.notify or {}).get("webhook")
    event = webhooks.event_of(task)
    if target and event:
        webhooks.start_delivery(task, target["workflow"], target["task_id"], event, once=True)


def _run_workflow_task(params: dict[str, Any], ctx: registry.RunContext) -> Any:
    """An automated workflow task's run: `handler(input) -> dict` in the sandbox completes it.

    When the script cannot be read, raises, times out or returns something other than a dict,
    the engine hands the task back (the type is registered with people_settle): it stays open
    for a person to complete or the client to cancel.
    """
    script = params.get("script")
    if not script:
        raise RuntimeError("a manual workflow task is completed by a person, never run")
    from chalicelib import sandbox  # deferred: only workers running scripts need it

    settings = ctx.settings
    remaining = ctx.remaining_seconds()
    wall = settings.handler_wall_seconds if remaining is None else \
        min(settings.handler_wall_seconds, max(remaining - 1.0, 0.1))
    source, _ = files.read_script(ctx.account_id, script)
    output = sandbox.run_function(source, script, "handler", [params["input"]], {},
                                  sandbox.Limits(wall_seconds=wall))
    if not isinstance(output, dict):
        raise TypeError(f"the script {script} returned {type(output).__name__}; "
                        "handler(input) must return a dict of outputs")
    return output


def _validate_task_params(params: dict[str, Any]) -> None:
    # Other surfaces can name this type too: what the workflow views read must be there.
    if not isinstance(params.get("input"), dict):
        raise Invalid("input must be an object", field="input")
    if "script" in params:
        files.validate_path(params["script"], "script")
    validate_handle(str(params.get("workflow")))
    if not GUID_PATTERN.match(str(params.get("task_id"))):
        raise Invalid("a workflow task is created through PUT /workflows/{handle}/tasks/{id}",
                      field="task_type")


def install() -> None:
    """Register the workflow task type and the webhook finish hook (called by the composition root)."""
    registry.register(WORKFLOW_TASK, _run_workflow_task, _validate_task_params, people_settle=True,
                      grouped=True)
    hooks.on_finish(_notify_on_finish)
