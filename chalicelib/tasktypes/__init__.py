"""Account-defined task types: a name backed by a script in the account's files.

The script defines `run(params, context)`; it runs in the sandbox through the worker, within the
task wall time. `context.progress(value)` records progress and `context.output_file(name, data)`
writes an output file; its JSON return value is the task's result, an exception its error.
A type is found through the engine registry's resolver, after the built-ins, so an account's
name can never shadow a built-in (names of built-ins are refused when a type is saved).
"""
from __future__ import annotations

import re
import threading
import time
from typing import Any, NamedTuple

from chalicelib import files
from chalicelib.engine import registry
from chalicelib.errors import Conflict, Invalid, NotFound
from chalicelib.models import task_types as store
from chalicelib.models.task_types import TaskTypeDefinition

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}(\.[a-z0-9_-]{1,63}){0,3}$")
FILE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_DESCRIPTION = 2000
MAX_FILES = 20
MAX_TYPES = 1000
CACHE_SECONDS = 5.0
CACHE_SIZE = 1024


class TaskTypeView(NamedTuple):
    """A task type as listed: a built-in or one of the account's."""

    name: str
    builtin: bool
    description: str | None
    params_schema: dict[str, Any] | None
    files: tuple[str, ...] | None
    script_path: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


def validate_name(name: Any) -> str:
    """A type name: lower-case words joined by dots (`resize`, `acme.report.pdf`)."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise Invalid("a task type name is lower-case letters, digits, '_' and '-', in up to four "
                      "dot-separated words, starting with a letter", field="name")
    return name


def _check_schema(schema: Any) -> dict[str, Any] | None:
    if schema is None:
        return None
    if not isinstance(schema, dict):
        raise Invalid("params_schema must be a JSON Schema object", field="params_schema")
    from jsonschema import Draft202012Validator, SchemaError  # deferred: cold starts skip it

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise Invalid(f"params_schema is not a valid JSON Schema: {exc.message}",
                      field="params_schema") from exc
    return schema


def _check_files(names: Any) -> list[str] | None:
    if names is None:
        return None
    if not isinstance(names, list) or len(names) > MAX_FILES or \
            not all(isinstance(n, str) and FILE_NAME_PATTERN.match(n) for n in names):
        raise Invalid(f"files must be a list of at most {MAX_FILES} file names (letters, digits, "
                      "'.', '_', '-')", field="files")
    if len(set(names)) != len(names):
        raise Invalid("files names a file twice", field="files")
    return list(names)


def save(account_id: str, name: str, body: dict[str, Any]) -> tuple[TaskTypeDefinition, bool]:
    """Create or replace the account's type `name` from a request body; whether it is new."""
    name = validate_name(name)
    if name in registry.names():
        raise Conflict(f"{name!r} is a built-in task type; choose another name", field="name")
    unknown = sorted(set(body) - {"script_path", "description", "params_schema", "files"})
    if unknown:
        raise Invalid(f"unknown field {unknown[0]!r}", field=unknown[0])
    script_path = files.validate_path(body.get("script_path"), "script_path")
    try:
        files.read_script(account_id, script_path)
    except NotFound as exc:
        raise Invalid(f"no file {script_path!r} in this account's files", field="script_path") from exc
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > MAX_DESCRIPTION):
        raise Invalid(f"description must be a string of at most {MAX_DESCRIPTION} characters",
                      field="description")
    schema = _check_schema(body.get("params_schema"))
    names = _check_files(body.get("files"))
    saved = store.put(account_id, name, script_path, description, schema, names)
    _cache.forget(account_id, name)
    return saved


def get(account_id: str, name: str) -> TaskTypeView:
    """A built-in or one of the account's types; NotFound when neither."""
    builtin = registry.builtin(name) if isinstance(name, str) else None
    if builtin is not None:
        return _builtin_view(builtin)
    found = store.get(account_id, name) if isinstance(name, str) and NAME_PATTERN.match(name) else None
    if found is None:
        raise NotFound(f"no task type {name!r}", field="name")
    return view_of(found)


def delete(account_id: str, name: str) -> None:
    """Remove one of the account's types (tasks already created keep their results)."""
    if registry.builtin(name) is not None:
        raise Conflict(f"{name!r} is a built-in task type and cannot be deleted", field="name")
    if not NAME_PATTERN.match(name) or not store.delete(account_id, name):
        raise NotFound(f"no task type {name!r}", field="name")
    _cache.forget(account_id, name)


def list_types(account_id: str) -> list[TaskTypeView]:
    """Built-ins (with their parameters where declared), then the account's types by name."""
    builtins = [_builtin_view(t) for t in (registry.builtin(n) for n in registry.names()) if t]
    return builtins + [view_of(d) for d in store.list_all(account_id, MAX_TYPES)]


def _builtin_view(task_type: registry.TaskType) -> TaskTypeView:
    return TaskTypeView(name=task_type.name, builtin=True, description=task_type.description,
                        params_schema=task_type.params_schema, files=task_type.files)


def view_of(found: TaskTypeDefinition) -> TaskTypeView:
    """How one of the account's types is listed."""
    return TaskTypeView(name=found.name, builtin=False, description=found.description,
                        params_schema=found.params_schema, files=found.files,
                        script_path=found.script_path, created_at=found.created_at,
                        updated_at=found.updated_at)


class _DefinitionCache:
    """Types per warm process for a few seconds: a create and its run each need the type.

    A change is seen at once in the process that made it and within CACHE_SECONDS elsewhere;
    a missing type is not cached, so a type just saved is found at once.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, TaskTypeDefinition]] = {}
        self._lock = threading.Lock()

    def get(self, account_id: str, name: str) -> TaskTypeDefinition | None:
        key = (account_id, name)
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        found = store.get(account_id, name)
        if found is not None:
            with self._lock:
                if len(self._entries) >= CACHE_SIZE:
                    self._entries.clear()
                self._entries[key] = (time.monotonic() + CACHE_SECONDS, found)
        return found

    def forget(self, account_id: str | None = None, name: str | None = None) -> None:
        with self._lock:
            if account_id is None or name is None:
                self._entries.clear()
            else:
                self._entries.pop((account_id, name), None)


_cache = _DefinitionCache()


def reset() -> None:
    """Forget cached types (tests)."""
    _cache.forget()


def resolve(account_id: str, name: str) -> registry.TaskType | None:
    """The engine's resolver: the account's type `name` as a runnable TaskType, or None."""
    if not NAME_PATTERN.match(name):
        return None
    found = _cache.get(account_id, name)
    if found is None:
        return None
    from chalicelib.tasktypes import script  # deferred: only creating or running needs it

    return registry.TaskType(name=found.name, run=script.runner(found),
                             validate=script.validator(found), files=found.files,
                             description=found.description, params_schema=found.params_schema)
