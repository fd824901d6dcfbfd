"""The `taskport` command line: every surface from a shell, with live progress and `--json` everywhere.

Exit codes: 0 done; 1 a task or call failed; 2 usage error; 3 credentials missing or refused (401/403);
4 not found (404); 5 the server failed or could not be reached (5xx, connection); 6 a wait timed out;
7 any other error answer (400, 409, 413).
"""
from __future__ import annotations

import io
import json
import os
import sys
import time
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from taskport import errors
from taskport.client import Client
from taskport.models import TaskStatus

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_SERVER, EXIT_TIMEOUT, EXIT_ERROR = range(8)
CREDENTIAL_FIELDS = ("token", "secret_key", "api_key", "access_key", "client_handle", "workspace")
DEFAULT_URL = "http://127.0.0.1:8000"

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def config_path() -> Path:
    """Where `taskport login` keeps the URL and credentials (mode 0600)."""
    explicit = os.environ.get("TASKPORT_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "taskport" / "credentials.json"


def read_config() -> dict[str, Any]:
    """The saved login ({} when there is none)."""
    path = config_path()
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def write_config(settings: dict[str, Any]) -> Path:
    """Save the login readable by its owner only."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(settings, handle, indent=2)
        handle.write("\n")
    return path


def make_client(url: str | None = None) -> Client:
    """The environment (TASKPORT_URL, TASKPORT_TOKEN, ...) over the saved login."""
    saved = read_config()
    settings: dict[str, Any] = {name: os.environ.get(f"TASKPORT_{name.upper()}") or saved.get(name)
                               for name in CREDENTIAL_FIELDS}
    return Client(url or os.environ.get("TASKPORT_URL") or saved.get("url") or DEFAULT_URL, **settings)


class State:
    """What every command gets: the client and whether to answer in JSON."""

    def __init__(self, url: str | None, as_json: bool) -> None:
        self.url = url
        self.as_json = as_json
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = make_client(self.url)
        return self._client


def _exit_code(error: errors.TaskportError) -> int:
    if isinstance(error, (errors.Unauthorized, errors.Forbidden)):
        return EXIT_AUTH
    if isinstance(error, errors.NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, (errors.ServerError, errors.ConnectionFailed)):
        return EXIT_SERVER
    if isinstance(error, errors.WaitTimedOut):
        return EXIT_TIMEOUT
    if isinstance(error, errors.TaskFailed):
        return EXIT_FAILED
    return EXIT_ERROR


def fail(message: str, code: int) -> NoReturn:
    """One readable line on stderr, then exit."""
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    sys.exit(code)


class TaskportGroup(click.Group):
    """Turns every SDK error into one line and its exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except errors.TaskportError as error:
            surface = f"{error.surface}: " if error.surface else ""
            fail(f"{surface}{error}", _exit_code(error))


json_option = click.option("--json", "as_json", is_flag=True, help="Answer in JSON (one document, or NDJSON lines).")


def _state(ctx: click.Context, as_json: bool) -> State:
    state: State = ctx.ensure_object(State)
    state.as_json = state.as_json or as_json
    return state


def emit(state: State, value: Any, render: Callable[[], None]) -> None:
    """Print `value` as JSON with --json, else call `render`."""
    if state.as_json:
        click.echo(json.dumps(value, default=_plain, indent=2))
    else:
        render()


def _plain(value: Any) -> Any:
    raw = getattr(value, "raw", None)
    if raw:
        return raw
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__ if k != "raw"}
    return str(value)


def parse_pairs(pairs: Iterable[str]) -> dict[str, Any]:
    """`key=value` arguments; a value that parses as JSON (numbers, true, [..], {..}) is taken as JSON."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def table(title: str | None, columns: list[str], rows: Iterable[Iterable[Any]]) -> Table:
    """A rich table of `rows`."""
    grid = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    return grid


@click.group(cls=TaskportGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=__doc__.split(
    "\n\n", 1)[1])
@click.option("--url", envvar="TASKPORT_URL", help="Taskport's base URL (default: the login's, or $TASKPORT_URL).")
@json_option
@click.version_option("0.1.0", prog_name="taskport")
@click.pass_context
def main(ctx: click.Context, url: str | None, as_json: bool) -> None:
    """Taskport from the command line."""
    ctx.obj = State(url, as_json)


# -- login -----------------------------------------------------------------------------------------------------

@main.command()
@click.option("--token", help="The account's token (Bearer).")
@click.option("--secret-key", help="The account's secret key (task API).")
@click.option("--api-key", help="The account's api key (task API, from whitelisted pages).")
@click.option("--access-key", help="The account's access key (workflows).")
@click.option("--client-handle", help="The account handle (workflows' Basic user name).")
@click.option("--workspace", help="The workspace for package instances (default: default).")
@click.option("--dev-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read URL and credentials from make dev's .taskport-dev.json.")
@json_option
@click.pass_context
def login(ctx: click.Context, as_json: bool, dev_file: Path | None, **given: str | None) -> None:
    """Save the URL and credentials (mode 0600) for the next commands; checks them first."""
    state = _state(ctx, as_json)
    settings = {k: v for k, v in read_config().items() if k in (*CREDENTIAL_FIELDS, "url")}
    if dev_file is None and not any(given.values()) and Path(".taskport-dev.json").exists():
        dev_file = Path(".taskport-dev.json")
    if dev_file is not None:
        kept = json.loads(dev_file.read_text())
        settings.update({"url": kept.get("url"), **(kept.get("account") or {}).get("credentials", {})})
    for name in CREDENTIAL_FIELDS:
        value = given.get(name) or os.environ.get(f"TASKPORT_{name.upper()}")
        if value:
            settings[name] = value
    settings["url"] = state.url or settings.get("url") or DEFAULT_URL
    settings = {k: v for k, v in settings.items() if k in (*CREDENTIAL_FIELDS, "url") and v}
    client = Client(settings["url"], **{k: v for k, v in settings.items() if k != "url"})
    checked = []
    if client.token:
        list(client.files.list("/", page_size=1))
        checked.append("token")
    if client.secret_key:
        try:
            client.tasks.status("0" * 32)
        except errors.NotFound:
            pass
        checked.append("secret key")
    if client.access_key and client.client_handle:
        client.workflows.list()
        checked.append("access key")
    if not checked:
        fail("no credentials given: pass --token/--secret-key/--access-key, set TASKPORT_TOKEN..., "
             "or run it beside make dev's .taskport-dev.json", EXIT_USAGE)
    path = write_config(settings)
    emit(state, {"url": settings["url"], "config": str(path), "checked": checked},
         lambda: out.print(f"Logged in to {settings['url']} ({', '.join(checked)} checked); saved in {path}"))


# -- tasks -----------------------------------------------------------------------------------------------------

@main.group()
def tasks() -> None:
    """Tasks of the task API (/v1) and of the account (/taskport/v1)."""


def _fraction(progress: Any) -> float | None:
    """A 0..1 fraction from the progress shapes tasks report (0..1, 0..100, {done, total}, {percent})."""
    if isinstance(progress, bool):
        return None
    if isinstance(progress, (int, float)):
        return float(progress) if progress <= 1 else min(float(progress) / 100, 1.0)
    if isinstance(progress, dict):
        for done, total in (("done", "total"), ("current", "total"), ("completed", "total")):
            if isinstance(progress.get(done), (int, float)) and isinstance(progress.get(total), (int, float)) \
                    and progress[total]:
                return min(progress[done] / progress[total], 1.0)
        for name in ("percent", "percentage"):
            if isinstance(progress.get(name), (int, float)):
                return min(progress[name] / 100, 1.0)
        if isinstance(progress.get("fraction"), (int, float)):
            return float(progress["fraction"])
    return None


def _describe(status: TaskStatus) -> str:
    if status.status == "success":
        return "[green]success[/green]"
    if status.status == "error":
        return f"[red]error[/red] {status.result}"
    if status.progress is not None and _fraction(status.progress) is None:
        return f"{status.status} {json.dumps(status.progress)}"
    return status.status


def follow_tasks(state: State, keys: list[str], timeout: float) -> list[TaskStatus]:
    """Poll the tasks until they finish, with a live progress bar per task (NDJSON lines with --json)."""
    client = state.client
    deadline = time.monotonic() + timeout
    statuses = client.tasks.status(*keys)
    if state.as_json:
        last: dict[str, Any] = {}
        while True:
            for status in statuses:
                if last.get(status.key) != status.raw:
                    click.echo(json.dumps(status.raw))
                    last[status.key] = status.raw
            if all(s.finished for s in statuses) or time.monotonic() >= deadline:
                break
            time.sleep(0.3)
            statuses = client.tasks.status(*keys)
    else:
        progress = Progress(TextColumn("{task.fields[key]}"), BarColumn(), TextColumn("{task.description}"),
                            TimeElapsedColumn(), console=err, transient=False)
        bars: dict[str, TaskID] = {s.key: progress.add_task(_describe(s), total=1.0, key=s.key[:12])
                                   for s in statuses}
        with progress:
            while True:
                for status in statuses:
                    fraction = 1.0 if status.finished else _fraction(status.progress)
                    progress.update(bars[status.key], description=_describe(status),
                                    completed=fraction if fraction is not None else 0.0)
                if all(s.finished for s in statuses) or time.monotonic() >= deadline:
                    break
                time.sleep(0.3)
                statuses = client.tasks.status(*keys)
    if not all(s.finished for s in statuses):
        raise errors.WaitTimedOut(f"{sum(not s.finished for s in statuses)} task(s) still running after "
                                  f"{timeout:g} s", statuses)
    return statuses


@tasks.command("create")
@click.argument("task_type")
@click.argument("params", nargs=-1)
@click.option("--wait", is_flag=True, help="Follow the task until it finishes, with its progress.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="How long --wait waits (s).")
@json_option
@click.pass_context
def tasks_create(ctx: click.Context, task_type: str, params: tuple[str, ...], wait: bool, timeout: float,
                 as_json: bool) -> None:
    """Create a task: taskport tasks create image.thumb url=https://... size=128 --wait"""
    state = _state(ctx, as_json)
    created = state.client.tasks.create(task_type, **parse_pairs(params))
    if not wait:
        emit(state, created.raw, lambda: out.print(f"{created.key} {created.status}"))
        return
    [status] = follow_tasks(state, [created.key], timeout)
    if not state.as_json:
        result = status.result
        out.print(json.dumps(result, indent=2) if not isinstance(result, str) else result, highlight=False)
    if status.status != "success":
        sys.exit(EXIT_FAILED)


@tasks.command("watch")
@click.argument("keys", nargs=-1, required=True)
@click.option("--timeout", type=float, default=300.0, show_default=True)
@json_option
@click.pass_context
def tasks_watch(ctx: click.Context, keys: tuple[str, ...], timeout: float, as_json: bool) -> None:
    """Follow tasks by key until they finish."""
    state = _state(ctx, as_json)
    statuses = follow_tasks(state, list(keys), timeout)
    if not state.as_json:
        out.print(table(None, ["key", "status", "result"],
                        ([s.key, s.status, json.dumps(s.result)] for s in statuses)))
    if any(s.status != "success" for s in statuses):
        sys.exit(EXIT_FAILED)


def _native(state: State, path: str, what: str, **query: Any) -> Any:
    try:
        return state.client.native.get(path, **query)
    except (errors.Forbidden, errors.NotFound) as error:
        # A server without the route: API Gateway (and Chalice's local server) answer 403, or, for three
        # segments, the package method route answers (in its own error body) that there is no such workspace.
        unknown_route = "Missing Authentication Token" in error.message or (
            isinstance(error.body, dict) and "task" in error.body)
        if unknown_route:
            raise errors.NotFound(f"this server has no /taskport/v1/{path} ({what} needs a newer Taskport)",
                                  status=404, surface="taskport") from error
        raise


@tasks.command("ls")
@click.option("--status", "status_filter", help="Only tasks in this status (queued, executing, success, error, "
                                                "canceled).")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@click.pass_context
def tasks_ls(ctx: click.Context, status_filter: str | None, limit: int, as_json: bool) -> None:
    """The account's recent tasks (GET /taskport/v1/tasks)."""
    state = _state(ctx, as_json)
    page = _native(state, "tasks", "tasks ls", status=status_filter, limit=limit)
    items: list[Any] = (page.get("tasks") if isinstance(page, dict) else page) or []
    emit(state, page, lambda: out.print(table("tasks", ["key", "type", "status", "created"], (
        [t.get("key"), t.get("task_type") or t.get("type"), t.get("status"), t.get("created_at")]
        for t in items))))


@main.command("task-types")
@json_option
@click.pass_context
def task_types(ctx: click.Context, as_json: bool) -> None:
    """The task types this account can create (GET /taskport/v1/task-types)."""
    state = _state(ctx, as_json)
    page = _native(state, "task-types", "task-types")
    items: list[Any] = (page.get("task_types", page.get("types")) if isinstance(page, dict) else page) or []

    def parameters(found: dict[str, Any]) -> str:
        schema = found.get("params_schema") or {}
        required = set(schema.get("required") or [])
        return ", ".join(name + ("" if name in required else "?") for name in (schema.get("properties") or {}))

    emit(state, page, lambda: out.print(table("task types", ["name", "kind", "parameters", "description"], (
        [t.get("name"), "built-in" if t.get("builtin") else "account", parameters(t), t.get("description")]
        for t in items))))


# -- endpoints -------------------------------------------------------------------------------------------------

@main.group()
def endpoints() -> None:
    """HTTP endpoints (/api/v1/http-endpoint) and their handler scripts."""


@endpoints.command("deploy")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--path", "endpoint_path", required=True, help="The endpoint's path (/api/v1/http-endpoint/u/PATH).")
@click.option("--id", "endpoint_id", help="The endpoint id (default: the path).")
@json_option
@click.pass_context
def endpoints_deploy(ctx: click.Context, file: Path, endpoint_path: str, endpoint_id: str | None,
                     as_json: bool) -> None:
    """Upload FILE as a handler script and serve it at PATH (created or updated)."""
    state = _state(ctx, as_json)
    endpoint_id = endpoint_id or endpoint_path.strip("/").replace("/", "-")
    endpoint = state.client.endpoints.deploy(endpoint_id, endpoint_path.strip("/"), file.read_bytes(),
                                             script_path=f"/scripts/{endpoint_id}/{file.name}")
    url = f"{state.client.url}/api/v1/http-endpoint/u/{endpoint.path}"
    emit(state, {**endpoint.raw, "url": url},
         lambda: out.print(f"{endpoint.id}: {url} runs {endpoint.handler_script_path} ({endpoint.state})"))


@endpoints.command("call")
@click.argument("path")
@click.argument("params", nargs=-1)
@click.option("-X", "--method", default="GET", show_default=True)
@click.option("-d", "--data", help="The request body (JSON when it parses as JSON; @FILE reads a file).")
@json_option
@click.pass_context
def endpoints_call(ctx: click.Context, path: str, params: tuple[str, ...], method: str, data: str | None,
                   as_json: bool) -> None:
    """Call an endpoint: taskport endpoints call hello name=Ada"""
    state = _state(ctx, as_json)
    body: bytes | None = None
    headers = {}
    if data is not None:
        body = Path(data[1:]).read_bytes() if data.startswith("@") else data.encode()
        try:
            json.loads(body)
            headers["Content-Type"] = "application/json"
        except ValueError:
            headers["Content-Type"] = "text/plain"
    answer = state.client.endpoints.call(path, method=method, query={k: str(v) for k, v in parse_pairs(params).items()},
                                         data=body, headers=headers)
    emit(state, {"status": answer.status, "headers": answer.headers, "body": answer.text},
         lambda: click.echo(answer.text, err=answer.status >= 400))
    if answer.status >= 400:
        sys.exit({404: EXIT_NOT_FOUND, 401: EXIT_AUTH, 403: EXIT_AUTH}.get(answer.status, EXIT_FAILED))


@endpoints.command("logs")
@click.argument("endpoint_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new runs.")
@click.option("--limit", type=int, default=20, show_default=True)
@json_option
@click.pass_context
def endpoints_logs(ctx: click.Context, endpoint_id: str, follow: bool, limit: int, as_json: bool) -> None:
    """The endpoint's run records: status, duration, stdout/stderr, traceback (GET /taskport/v1/runs)."""
    state = _state(ctx, as_json)
    seen: set[str] = set()
    while True:
        page = _native(state, "runs", "endpoints logs", endpoint=endpoint_id, limit=limit)
        runs: list[Any] = (page.get("runs") if isinstance(page, dict) else page) or []
        for run in reversed(runs):
            run_id = str(run.get("id") or run.get("run_id"))
            if run_id in seen:
                continue
            seen.add(run_id)
            if state.as_json:
                click.echo(json.dumps(run))
            else:
                out.print(f"{run.get('started_at') or ''} {run_id} {run.get('status')} "
                          f"{run.get('http_status') or ''} {run.get('duration_ms', '')} ms", highlight=False)
                for stream in ("stdout", "stderr", "error"):
                    if run.get(stream):
                        text = run[stream] if isinstance(run[stream], str) else json.dumps(run[stream], indent=2)
                        out.print(text.rstrip(), highlight=False)
        if not follow:
            return
        time.sleep(2)


# -- workflows -------------------------------------------------------------------------------------------------

@main.group()
def workflows() -> None:
    """Workflows (/workflows), their tasks and webhook deliveries."""


@workflows.command("ls")
@json_option
@click.pass_context
def workflows_ls(ctx: click.Context, as_json: bool) -> None:
    """The account's workflows."""
    state = _state(ctx, as_json)
    found = state.client.workflows.list()
    emit(state, [w.raw for w in found], lambda: out.print(table("workflows", [
        "handle", "name", "mode", "webhook", "enabled"], (
        [w.handle, w.name, w.mode, w.webhook_url, w.webhook_enabled] for w in found))))


@workflows.command("deliveries")
@click.argument("handle")
@click.argument("task_id")
@click.option("--follow", "-f", is_flag=True, help="Keep watching until no delivery is pending.")
@click.option("--timeout", type=float, default=600.0, show_default=True)
@json_option
@click.pass_context
def workflows_deliveries(ctx: click.Context, handle: str, task_id: str, follow: bool, timeout: float,
                         as_json: bool) -> None:
    """A workflow task's webhook deliveries and their attempts."""
    state = _state(ctx, as_json)
    deadline = time.monotonic() + timeout

    def render(found: list[Any]) -> Table:
        return table(f"deliveries of {handle}/{task_id}", ["id", "event", "status", "attempts", "last", "next"], (
            [d.id, d.event, d.status, len(d.attempts),
             (lambda a: f"{a.get('status_code') or a.get('error')} in {a.get('duration_ms')} ms")(d.attempts[-1])
             if d.attempts else "", d.next_attempt_at] for d in found))

    found = state.client.workflows.deliveries(handle, task_id)
    if state.as_json:
        click.echo(json.dumps([d.raw for d in found], indent=None if follow else 2))
        while follow and _pending(found) and time.monotonic() < deadline:
            time.sleep(2)
            again = state.client.workflows.deliveries(handle, task_id)
            if [d.raw for d in again] != [d.raw for d in found]:
                click.echo(json.dumps([d.raw for d in again]))
            found = again
        return
    if not follow:
        out.print(render(found))
        return
    with Live(render(found), console=out, refresh_per_second=2) as live:
        while (_pending(found) or not found) and time.monotonic() < deadline:
            time.sleep(2)
            found = state.client.workflows.deliveries(handle, task_id)
            live.update(render(found))


def _pending(found: list[Any]) -> bool:
    return any(d.status in ("pending", "queued", "retrying", "sending") or d.next_attempt_at for d in found)


# -- packages --------------------------------------------------------------------------------------------------

@main.group()
def packages() -> None:
    """Packages (/api/v1/package), their versions and instances."""


def _package_source(source: Path) -> tuple[str, str]:
    """(default handle, module source) of a package directory or zip: its api.py, or its only module."""
    if source.is_dir():
        modules = {p.name: p.read_text() for p in source.glob("*.py")}
        default = source.resolve().name
    else:
        with zipfile.ZipFile(io.BytesIO(source.read_bytes())) as bundle:
            modules = {Path(n).name: bundle.read(n).decode() for n in bundle.namelist()
                       if n.endswith(".py") and "/" not in n.strip("/")}
        default = source.stem
    if "api.py" in modules:
        return default, modules["api.py"]
    if len(modules) == 1:
        return default, next(iter(modules.values()))
    raise click.BadParameter(f"{source} holds {len(modules)} modules and no api.py; the server takes one module",
                             param_hint="DIR|ZIP")


@packages.command("deploy")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--handle", help="The package handle (default: the directory or zip name).")
@click.option("--version", "version", help="The version handle (default: a timestamp).")
@click.option("--instance", help="Also create (or reuse) an instance with this handle.")
@json_option
@click.pass_context
def packages_deploy(ctx: click.Context, source: Path, handle: str | None, version: str | None,
                    instance: str | None, as_json: bool) -> None:
    """Create a package version from DIR or ZIP (api.py, or one module), and optionally an instance."""
    state = _state(ctx, as_json)
    default, module = _package_source(source)
    handle = (handle or default).lower().replace("_", "-")
    version = version or time.strftime("%Y.%m.%d.%H%M%S", time.gmtime())
    client = state.client
    client.packages.create(handle, fetch_if_exists=True)
    created = client.packages.create_version(handle, version, module)
    answer: dict[str, Any] = {"package": handle, "version": created.raw}
    if instance:
        answer["instance"] = client.instances.create(handle, instance, version=version, fetch_if_exists=True).raw
    methods = ", ".join(m.get("name", "") for m in created.methods)
    emit(state, answer, lambda: out.print(
        f"{handle} {version}: methods {methods}" + (f"; instance {instance}" if instance else "")))


@main.command("invoke")
@click.argument("target", metavar="WORKSPACE/INSTANCE")
@click.argument("method")
@click.argument("params", nargs=-1)
@click.option("--background", is_flag=True, help="Run as a task and wait for its result.")
@click.option("--timeout", type=float, default=300.0, show_default=True)
@json_option
@click.pass_context
def invoke(ctx: click.Context, target: str, method: str, params: tuple[str, ...], background: bool, timeout: float,
           as_json: bool) -> None:
    """Call a package instance's method: taskport invoke default/greeter greet name=Ada"""
    state = _state(ctx, as_json)
    workspace, sep, instance = target.partition("/")
    if not sep or not workspace or not instance:
        raise click.BadParameter(f"{target!r} is not WORKSPACE/INSTANCE", param_hint="WORKSPACE/INSTANCE")
    called = state.client.invoke(workspace, instance, method, parse_pairs(params), background=background)
    value = called.value
    if called.task is not None:
        value = state.client.packages.wait(called.task.id, timeout=timeout)
    emit(state, value, lambda: out.print(value if isinstance(value, str) else json.dumps(value, indent=2),
                                         highlight=False))


if __name__ == "__main__":
    main()
