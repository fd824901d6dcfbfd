"""Invoking a package instance's method: at once in the sandbox, or as an engine task that the
task worker runs in the sandbox (background methods, `background=true`)."""
from __future__ import annotations

from typing import Any, NamedTuple

from chalicelib import files, runs, sandbox
from chalicelib.engine import registry
from chalicelib.engine import tasks as engine
from chalicelib.errors import Conflict, Forbidden, Invalid, NotFound
from chalicelib.models.packages import Method, PackageInstance
from chalicelib.models.tasks import Task
from chalicelib.packages import catalog, runtime_script, workspaces

TASK_TYPE = "package.method"
PARAMS = {"workspace": str, "instance": str, "package": str, "version": str, "method": str,
          "source_path": str, "source_etag": str, "config": dict, "arguments": dict}


class Invocation(NamedTuple):
    """What a call came to: the method's value, or the task that will run it."""

    value: Any = None
    task: Task | None = None


def _method(instance: PackageInstance, name: str) -> Method:
    if name.startswith("_"):
        raise Forbidden(f"{name!r} is private: names starting with '_' cannot be invoked",
                        field="method")
    for method in instance.methods:
        if method.name == name:
            return method
    offered = ", ".join(m.name for m in instance.methods)
    raise NotFound(f"package {instance.package_handle!r} version {instance.version_handle!r} has "
                   f"no method {name!r}; its methods are: {offered}", field="method")


def invoke(account_id: str, workspace_handle: str, instance_handle: str, method: str,
           arguments: dict[str, Any], background: bool) -> Invocation:
    """Run `method(**arguments)` of the instance, or queue it when it is (or is asked to be)
    background."""
    workspace = workspaces.find(account_id, workspace_handle)
    instance = catalog.find_instance(account_id, workspace, instance_handle)
    declared = _method(instance, method)
    params = {"workspace": workspace.handle, "instance": instance.handle,
              "package": instance.package_handle, "version": instance.version_handle,
              "method": declared.name, "source_path": instance.source_path,
              "source_etag": instance.source_etag, "config": instance.config,
              "arguments": arguments}
    if background or declared.background:
        spec = engine.TaskSpec(task_type=TASK_TYPE, params=params)
        return Invocation(task=engine.create_tasks(account_id, workspace.handle, [spec])[0])
    with runs.recording(runs.METHOD, account_id, http=True, **runs.method_subject(params)):
        return Invocation(value=_run(account_id, params, sandbox.Limits()))


def _source(account_id: str, params: dict[str, Any]) -> str:
    label = f"package {params['package']!r} version {params['version']!r}"
    try:
        source, etag = files.read_script(account_id, params["source_path"])
    except NotFound as exc:
        raise Conflict(f"the source of {label} ({params['source_path']}) was deleted") from exc
    if etag != params["source_etag"]:
        raise Conflict(f"the source of {label} ({params['source_path']}) was changed after the "
                       "version was created; versions are immutable, create a new one")
    return source


def _run(account_id: str, params: dict[str, Any], limits: sandbox.Limits) -> Any:
    path = params["source_path"]
    answer = sandbox.run_function(
        runtime_script(_source(account_id, params), path), path, "taskport_invoke",
        [params["method"], params["config"], params["arguments"]], {}, limits)
    if not isinstance(answer, dict):
        raise sandbox.Crashed("the package runtime answered something unreadable")
    if "invalid" in answer:
        raise Invalid(str(answer["invalid"]), field="arguments")
    if "refused" in answer:
        raise sandbox.Refused(str(answer["refused"]))
    return answer.get("result")


def _run_task(params: dict[str, Any], ctx: registry.RunContext) -> Any:
    return _run(ctx.account_id, params, sandbox.Limits(wall_seconds=ctx.settings.task_wall_seconds))


def _validate_params(params: dict[str, Any]) -> None:
    for name, kind in PARAMS.items():
        if not isinstance(params.get(name), kind):
            raise Invalid(f"{name} must be a {kind.__name__}", field=name)


def task_status(account_id: str, task_id: Any) -> Task:
    """A background invocation's task; NotFound for another account's or another kind of task."""
    if not isinstance(task_id, str) or not task_id:
        raise Invalid("taskId is required: a non-empty string", field="taskId")
    if not engine.is_engine_key(task_id):
        raise NotFound(f"no task {task_id!r}", field="taskId")
    task = engine.get_task(task_id, account_id)
    if task.task_type != TASK_TYPE:
        raise NotFound(f"no task {task_id!r}", field="taskId")
    return task


def install() -> None:
    """Register the background package-method task type (called by the composition root)."""
    registry.register(TASK_TYPE, _run_task, _validate_params)
