"""Running an account's task type: its script's `run(params, context)` in the sandbox."""
from __future__ import annotations

import base64
import binascii
from typing import Any
from collections.abc import Callable

from chalicelib import files
from chalicelib.engine import registry
from chalicelib.errors import Invalid
from chalicelib.models.task_types import TaskTypeDefinition

WRAPPER_FILENAME = "<taskport task>"
FUNCTION = "run_task"
# Runs in the sandbox. The user's script is compiled under its own path, so its traceback names
# the user's file and lines; what the context gathered comes back with the result, and the worker
# (which holds the credentials) writes progress and files.
WRAPPER_SOURCE = '''
import base64
import json
import re

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class Context:
    """What a task script's run(params, context) may use."""

    def __init__(self, key, declared):
        self.key = key
        self._declared = declared
        self._progress = []
        self._files = {}

    def progress(self, value):
        """Record the task's progress: any JSON value (the latest one is shown)."""
        json.dumps(value, allow_nan=False)
        self._progress[:] = [value]

    def output_file(self, name, data, content_type="application/octet-stream"):
        """Write an output file of the task (bytes, or str as UTF-8)."""
        if not isinstance(name, str) or not FILE_NAME.match(name):
            raise ValueError(f"output file name {name!r}: letters, digits, '.', '_' and '-'")
        if self._declared is not None and name not in self._declared:
            raise ValueError(f"output file {name!r} is not among the type's files {self._declared}")
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("output_file data must be bytes or str")
        self._files[name] = (str(content_type), base64.b64encode(bytes(data)).decode("ascii"))


def run_task(source, filename, params, key, declared):
    namespace = {"__name__": "__taskport_task__", "__file__": filename}
    exec(compile(source, filename, "exec"), namespace)
    run = namespace.get("run")
    if not callable(run):
        raise TypeError(f"{filename} defines no run(params, context) function")
    context = Context(key, declared)
    result = run(params, context)
    json.dumps(result, allow_nan=False)
    return {"result": result, "progress": context._progress,
            "files": [[name, kind, data] for name, (kind, data) in context._files.items()]}
'''


def runner(found: TaskTypeDefinition) -> registry.Run:
    """The TaskType.run of an account's type."""
    def run(params: dict[str, Any], ctx: registry.RunContext) -> Any:
        from chalicelib import sandbox  # deferred: only workers running scripts need it

        source, _ = files.read_script(ctx.account_id, found.script_path)
        remaining = ctx.remaining_seconds()
        wall = ctx.settings.task_wall_seconds if remaining is None else max(remaining - 1.0, 0.1)
        answer = sandbox.run_function(
            WRAPPER_SOURCE, WRAPPER_FILENAME, FUNCTION,
            [source, found.script_path, params, ctx.key, list(found.files) if found.files else None],
            {}, sandbox.Limits(wall_seconds=wall))
        if not isinstance(answer, dict) or not isinstance(answer.get("files"), list):
            raise sandbox.Crashed("the task script's answer is malformed")
        for value in answer.get("progress") or []:
            ctx.progress(value)
        for entry in answer["files"]:
            name, content_type, data = _file_entry(entry)
            ctx.write_file(name, data, content_type)
        return answer.get("result")

    return run


def _file_entry(entry: Any) -> tuple[str, str, bytes]:
    from chalicelib import sandbox

    if not isinstance(entry, list) or len(entry) != 3 or not all(isinstance(x, str) for x in entry):
        raise sandbox.Crashed("the task script's answer is malformed")
    try:
        return entry[0], entry[1], base64.b64decode(entry[2], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise sandbox.Crashed("the task script's answer is malformed") from exc


def validator(found: TaskTypeDefinition) -> Callable[[dict[str, Any]], None] | None:
    """The TaskType.validate of an account's type: its params_schema, when it has one."""
    schema = found.params_schema
    if schema is None:
        return None

    def validate(params: dict[str, Any]) -> None:
        from jsonschema import Draft202012Validator  # deferred: cold starts skip it

        error = next(iter(sorted(Draft202012Validator(schema).iter_errors(params),
                                 key=lambda e: (len(e.path), list(map(str, e.path))))), None)
        if error is not None:
            raise Invalid(f"params: {error.message}", field=_field(error, params))

    return validate


def _field(error: Any, params: dict[str, Any]) -> str:
    """The parameter an error is about: its path, or the property that is missing or extra."""
    path = [str(part) for part in error.path]
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        missing = [name for name in error.validator_value if name not in instance]
        path.append(str(missing[0]) if missing else "")
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(name for name in instance if name not in allowed)
        if extra:
            path.append(str(extra[0]))
    return ".".join(part for part in path if part) or "params"
