"""Every environment variable Taskport reads, read in one place.

TASKPORT_RUN_OUTPUT_BYTES (default 65536): how much of each of a sandbox call's stdout and
stderr is kept for its report (docs/sandbox-io.md).
TASKPORT_SANDBOX_NETWORK: network for user code in the sandbox; only `none` is offered
(docs/sandbox-isolation.md).
Visibility (docs/observability.md): TASKPORT_LOG_LEVEL (INFO), TASKPORT_LOG_FORMAT (text | json;
json on Lambda), TASKPORT_METRICS (EMF lines; on by default on Lambda), TASKPORT_RUNS_TABLE,
TASKPORT_RUN_RETENTION_DAYS (7).
Hardening (docs/hardening.md): TASKPORT_SANDBOX_INVOKE_TIMEOUT_SECONDS (320): the read timeout of
the `sandbox` Lambda invoke; TASKPORT_REQUEST_READ_TIMEOUT_SECONDS (30): the local server's
wait for each read of a request (a slow body holds no thread for ever);
TASKPORT_MAX_WAITS_PER_CALLER (4): blocking and streaming requests one caller may hold at once.
Steamship package bundles: TASKPORT_WHEELHOUSE (the directory of wheels that builds install
from, never the package index; default <project>/.wheelhouse, filled by `make`),
TASKPORT_BUNDLE_CACHE (where the sandbox keeps unpacked bundles: /var/cache/taskport-bundles as
root, else <tmp>/taskport-bundles),
TASKPORT_BUILD_SECONDS (pip's time limit per build, 240), TASKPORT_MAX_BUNDLE_BYTES (unpacked),
TASKPORT_BUILD_PLATFORM (`local`: wheels for this interpreter; `lambda`: for the sandbox
function's python3.12 x86_64; default `lambda` on Lambda, else `local`), TASKPORT_BUNDLE_URL_SECONDS
(how long the presigned URL the sandbox function fetches a bundle by stays valid, 300).
Image tasks (docs/tasks.md): TASKPORT_IMAGE_MEMORY_BYTES (1 GiB) and TASKPORT_IMAGE_WALL_SECONDS
(60): the sandbox limits of one image's decoding (CPU time = wall time).
"""
from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from chalicelib.errors import ConfigurationError

PROJECT_DIR = Path(__file__).resolve().parents[1]


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from exc


def _list(name: str, default: str = "") -> tuple[str, ...]:
    raw = os.environ.get(name, default)
    return tuple(part.strip() for part in raw.split(",") if part.strip())


class Settings(NamedTuple):
    """Deployment settings; defaults are the ones the local stack uses."""

    region: str
    aws_endpoint_url: str | None
    accounts_table: str
    entities_table: str
    tasks_table: str
    tasks_queue: str
    webhooks_queue: str
    bucket: str
    sandbox_function: str
    sandbox_url: str | None
    admin_token: str | None
    credential_cache_seconds: float
    max_body_bytes: int
    max_task_input_bytes: int
    max_script_bytes: int
    max_tasks_per_request: int
    handler_wall_seconds: float
    handler_memory_bytes: int
    handler_output_bytes: int
    task_wall_seconds: float
    task_lease_seconds: int
    task_max_attempts: int
    block_wait_seconds: float
    list_page_size: int
    webhook_timeout_seconds: float
    webhook_schedule: tuple[int, ...]
    workflow_cache_seconds: float
    egress_allow: tuple[str, ...]
    fetch_max_bytes: int
    fetch_timeout_seconds: float
    file_url_seconds: int
    sandbox_mode: str = ""
    sandbox_processes: int = 32
    sandbox_file_bytes: int = 64 * 1024 * 1024
    script_cache_seconds: float = 5.0
    task_retention_seconds: int = 30 * 86400
    run_output_bytes: int = 64 * 1024
    sandbox_network: str = "none"
    runs_table: str = "taskport-dev-runs"
    run_retention_seconds: int = 7 * 86400
    log_level: str = "INFO"
    log_format: str = ""
    metrics: bool = False
    dev_file: str = ""
    # Read timeout of the `sandbox` Lambda invoke: above that function's own timeout (315 s,
    # .chalice/config.json), which is above the task wall time, so a background call is never
    # cut by the client first; below the worker's timeout (330 s). tests/unit/test_infra.py.
    sandbox_invoke_timeout_seconds: float = 320.0
    wheelhouse: str = ""
    bundle_cache_dir: str = ""
    build_seconds: float = 240.0
    max_bundle_bytes: int = 256 * 1024 * 1024
    build_platform: str = "local"
    bundle_url_seconds: int = 300
    request_read_timeout_seconds: float = 30.0
    max_waits_per_caller: int = 4
    image_memory_bytes: int = 1024 * 1024 * 1024
    image_wall_seconds: float = 60.0

    @property
    def require_admin_token(self) -> str:
        """The admin token; a deployment without one refuses every admin call."""
        if not self.admin_token:
            raise ConfigurationError("TASKPORT_ADMIN_TOKEN is not set")
        return self.admin_token


DEFAULT_WEBHOOK_SCHEDULE = "5,30,120,600,1800,3600,10800,21600,43200,86400,86400"


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the environment once per process (tests clear the cache)."""
    prefix = os.environ.get("TASKPORT_RESOURCE_PREFIX", "taskport-dev")
    schedule = _list("TASKPORT_WEBHOOK_SCHEDULE", DEFAULT_WEBHOOK_SCHEDULE)
    try:
        webhook_schedule = tuple(int(float(step)) for step in schedule)
    except ValueError as exc:
        raise ConfigurationError(
            f"TASKPORT_WEBHOOK_SCHEDULE must be comma-separated seconds, got {schedule!r}"
        ) from exc
    return Settings(
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        accounts_table=os.environ.get("TASKPORT_ACCOUNTS_TABLE", f"{prefix}-accounts"),
        entities_table=os.environ.get("TASKPORT_ENTITIES_TABLE", f"{prefix}-entities"),
        tasks_table=os.environ.get("TASKPORT_TASKS_TABLE", f"{prefix}-tasks"),
        tasks_queue=os.environ.get("TASKPORT_TASKS_QUEUE", f"{prefix}-tasks"),
        webhooks_queue=os.environ.get("TASKPORT_WEBHOOKS_QUEUE", f"{prefix}-webhooks"),
        bucket=os.environ.get("TASKPORT_BUCKET", f"{prefix}-files"),
        sandbox_function=os.environ.get("TASKPORT_SANDBOX_FUNCTION", f"{prefix}-sandbox"),
        sandbox_url=os.environ.get("TASKPORT_SANDBOX_URL") or None,
        admin_token=os.environ.get("TASKPORT_ADMIN_TOKEN") or None,
        credential_cache_seconds=_float("TASKPORT_CREDENTIAL_CACHE_SECONDS", 60.0),
        max_body_bytes=_int("TASKPORT_MAX_BODY_BYTES", 6 * 1024 * 1024),
        max_task_input_bytes=_int("TASKPORT_MAX_TASK_INPUT_BYTES", 256 * 1024),
        max_script_bytes=_int("TASKPORT_MAX_SCRIPT_BYTES", 1024 * 1024),
        max_tasks_per_request=_int("TASKPORT_MAX_TASKS_PER_REQUEST", 100),
        handler_wall_seconds=_float("TASKPORT_HANDLER_WALL_SECONDS", 10.0),
        handler_memory_bytes=_int("TASKPORT_HANDLER_MEMORY_BYTES", 512 * 1024 * 1024),
        handler_output_bytes=_int("TASKPORT_HANDLER_OUTPUT_BYTES", 6 * 1024 * 1024),
        task_wall_seconds=_float("TASKPORT_TASK_WALL_SECONDS", 300.0),
        task_lease_seconds=_int("TASKPORT_TASK_LEASE_SECONDS", 360),
        task_max_attempts=_int("TASKPORT_TASK_MAX_ATTEMPTS", 3),
        block_wait_seconds=_float("TASKPORT_BLOCK_WAIT_SECONDS", 25.0),
        list_page_size=_int("TASKPORT_LIST_PAGE_SIZE", 100),
        webhook_timeout_seconds=_float("TASKPORT_WEBHOOK_TIMEOUT_SECONDS", 15.0),
        webhook_schedule=webhook_schedule,
        workflow_cache_seconds=_float("TASKPORT_WORKFLOW_CACHE_SECONDS", 10.0),
        egress_allow=_list("TASKPORT_EGRESS_ALLOW"),
        fetch_max_bytes=_int("TASKPORT_FETCH_MAX_BYTES", 20 * 1024 * 1024),
        fetch_timeout_seconds=_float("TASKPORT_FETCH_TIMEOUT_SECONDS", 15.0),
        file_url_seconds=_int("TASKPORT_FILE_URL_SECONDS", 3600),
        sandbox_mode=os.environ.get("TASKPORT_SANDBOX_MODE", "").strip().lower(),
        sandbox_processes=_int("TASKPORT_SANDBOX_PROCESSES", 32),
        sandbox_file_bytes=_int("TASKPORT_SANDBOX_FILE_BYTES", 64 * 1024 * 1024),
        script_cache_seconds=_float("TASKPORT_SCRIPT_CACHE_SECONDS", 5.0),
        task_retention_seconds=int(_float("TASKPORT_TASK_RETENTION_DAYS", 30.0) * 86400),
        run_output_bytes=_int("TASKPORT_RUN_OUTPUT_BYTES", 64 * 1024),
        sandbox_network=os.environ.get("TASKPORT_SANDBOX_NETWORK", "none").strip().lower() or "none",
        runs_table=os.environ.get("TASKPORT_RUNS_TABLE", f"{prefix}-runs"),
        run_retention_seconds=int(_float("TASKPORT_RUN_RETENTION_DAYS", 7.0) * 86400),
        log_level=_log_level(),
        log_format=_log_format(),
        # EMF lines are printed to stdout; CloudWatch reads them on Lambda, elsewhere they are noise.
        metrics=_flag("TASKPORT_METRICS", bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))),
        dev_file=os.environ.get("TASKPORT_DEV_FILE", ""),
        sandbox_invoke_timeout_seconds=_float("TASKPORT_SANDBOX_INVOKE_TIMEOUT_SECONDS", 320.0),
        wheelhouse=os.environ.get("TASKPORT_WHEELHOUSE") or str(PROJECT_DIR / ".wheelhouse"),
        # As root the sandbox gives each call a private /tmp (namespaces): the bundles it
        # unpacks once for every call must live elsewhere.
        bundle_cache_dir=os.environ.get("TASKPORT_BUNDLE_CACHE")
        or ("/var/cache/taskport-bundles" if os.geteuid() == 0
            else os.path.join(tempfile.gettempdir(), "taskport-bundles")),
        build_seconds=_float("TASKPORT_BUILD_SECONDS", 240.0),
        max_bundle_bytes=_int("TASKPORT_MAX_BUNDLE_BYTES", 256 * 1024 * 1024),
        build_platform=_build_platform(),
        bundle_url_seconds=_int("TASKPORT_BUNDLE_URL_SECONDS", 300),
        request_read_timeout_seconds=_float("TASKPORT_REQUEST_READ_TIMEOUT_SECONDS", 30.0),
        max_waits_per_caller=_int("TASKPORT_MAX_WAITS_PER_CALLER", 4),
        image_memory_bytes=_int("TASKPORT_IMAGE_MEMORY_BYTES", 1024 * 1024 * 1024),
        image_wall_seconds=_float("TASKPORT_IMAGE_WALL_SECONDS", 60.0),
    )


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")


def _log_level() -> str:
    level = os.environ.get("TASKPORT_LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise ConfigurationError(f"TASKPORT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, "
                                 f"got {level!r}")
    return level


def _log_format() -> str:
    chosen = os.environ.get("TASKPORT_LOG_FORMAT", "").strip().lower()
    if chosen and chosen not in LOG_FORMATS:
        raise ConfigurationError(f"TASKPORT_LOG_FORMAT must be text or json, got {chosen!r}")
    return chosen


BUILD_PLATFORMS = ("local", "lambda")


def _build_platform() -> str:
    # Wheels must fit where the sandbox runs: on AWS that is the sandbox function, whatever
    # interpreter runs the build.
    default = "lambda" if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else "local"
    chosen = os.environ.get("TASKPORT_BUILD_PLATFORM", "").strip().lower() or default
    if chosen not in BUILD_PLATFORMS:
        raise ConfigurationError(f"TASKPORT_BUILD_PLATFORM must be local or lambda, got {chosen!r}")
    return chosen


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ConfigurationError(f"{name} must be true or false, got {raw!r}")
    return raw in ("1", "true", "yes", "on")
