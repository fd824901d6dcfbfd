"""The local development stack (`make dev`): emulator, resources, routes, pollers, sandbox.

Run it with `python -m chalicelib.local.stack`; tests start it with `Stack(port=0).start()`.
"""
from __future__ import annotations

import errno
import importlib
import importlib.util
import json
import logging
import os
import secrets
import signal
import socket
import stat
import sys
import threading
import uuid
from pathlib import Path
from typing import Any
from collections.abc import Callable

from chalicelib import aws
from chalicelib.local.pollers import QueuePoller, ScheduleTicker

log = logging.getLogger("taskport.local")

PROJECT_DIR = Path(__file__).resolve().parents[2]
STAGE = "dev"
DEV_ACCOUNT = "dev"
# Where `make dev` keeps the admin token it generated and the `dev` account's secrets (0600).
DEV_FILE = PROJECT_DIR / ".taskport-dev.json"
DEV_REFERRERS = ["localhost", "127.0.0.1"]
# Lambda handler name on `app` -> the Settings field naming the queue it consumes.
QUEUE_HANDLERS = {"task_worker": "tasks_queue", "webhook_sender": "webhooks_queue"}
SCHEDULED_HANDLERS = {"janitor": 60.0}
SANDBOX_MODULE = "chalicelib.sandbox.server"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def start_sandbox(host: str = "127.0.0.1") -> tuple[str, Callable[[], None]] | None:
    """Start the local sandbox server if the sandbox package provides one.

    Expects `chalicelib.sandbox.server.serve(host: str, port: int) -> (url: str, stop: callable)`:
    it binds `port` (0 means any free port), serves in the background and returns at once with
    the base URL to put in TASKPORT_SANDBOX_URL and a function that stops it.
    """
    if importlib.util.find_spec("chalicelib.sandbox") is None or \
            importlib.util.find_spec(SANDBOX_MODULE) is None:
        return None
    server = importlib.import_module(SANDBOX_MODULE)
    url, stop = server.serve(host, 0)
    return url, stop


class Stack:
    """Every piece of the local platform, started and stopped together."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8000, *, poll_wait_seconds: int = 1,
                 create_dev_account: bool = True, dev_file: Path | None = None) -> None:
        self.host = host
        self.port = port
        self.url: str | None = None
        self.dev_account: dict[str, Any] | None = None
        self._poll_wait_seconds = poll_wait_seconds
        self._create_dev_account = create_dev_account
        # None: nothing is kept; a path: the admin token and dev secrets survive restarts there.
        self._dev_file = dev_file
        self.admin_token_generated = False
        self._stops: list[Callable[[], None]] = []

    def start(self) -> str:
        """Start everything and return the base URL of the routes."""
        try:
            self._start_emulator()
            self._configure()
            queues = self._create_resources()
            self._start_sandbox()
            aws.reset()  # settings now read the final environment
            from app import app  # imported only now: the environment is complete

            self._start_server(app)
            self._start_pollers(app, queues)
            if self._create_dev_account:
                saved = read_dev_file(self._dev_file).get("account") if self._dev_file else None
                self.dev_account = ensure_dev_account(saved)
            if self._dev_file:
                write_dev_file(self._dev_file, self)
        except BaseException:
            self.stop()
            raise
        return self.url or ""

    def stop(self) -> None:
        """Stop everything that was started, last started first."""
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception:
                log.exception("while stopping the local stack")

    def _start_emulator(self) -> None:
        if os.environ.get("AWS_ENDPOINT_URL"):
            log.info("using the AWS endpoint %s", os.environ["AWS_ENDPOINT_URL"])
            return
        from chalicelib.local.emulator import Emulator

        emulator = Emulator()
        os.environ["AWS_ENDPOINT_URL"] = emulator.start()
        self._stops.append(emulator.stop)
        # The embedded emulator takes any credentials; fake ones make sure nothing real is used.
        os.environ["AWS_ACCESS_KEY_ID"] = "testing"
        os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)

    def _configure(self) -> None:
        os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))
        if not os.environ.get("TASKPORT_ADMIN_TOKEN"):
            # No published default: a token generated once per checkout, kept in the 0600 file.
            saved = read_dev_file(self._dev_file).get("admin_token") if self._dev_file else None
            os.environ["TASKPORT_ADMIN_TOKEN"] = saved or "tpadm_" + secrets.token_urlsafe(32)
            self.admin_token_generated = True
        _reset_caches()

    def _create_resources(self) -> dict[str, str]:
        from chalicelib.local.resources import ensure_resources

        queues = ensure_resources()
        os.environ["TASKPORT_TASKS_QUEUE"] = queues["tasks_queue"]
        os.environ["TASKPORT_WEBHOOKS_QUEUE"] = queues["webhooks_queue"]
        return queues

    def _start_sandbox(self) -> None:
        given = os.environ.get("TASKPORT_SANDBOX_URL")
        if given:
            from chalicelib.local.sandbox_watch import reachable

            # A server someone else runs is not supervised: a stale URL (left in the environment
            # by an earlier stack or test) made every call fail with nothing said at start.
            if not reachable(given):
                log.warning("TASKPORT_SANDBOX_URL %s does not answer: every sandbox call fails "
                            "until it does (unset it and the stack starts its own)", given)
            return
        started = start_sandbox(self.host)
        if started is None:
            log.info("no local sandbox server (%s is missing)", SANDBOX_MODULE)
            return
        from chalicelib.local.sandbox_watch import SandboxSupervisor

        first = [started]

        def start_again() -> tuple[str, Callable[[], None]]:
            again = first.pop() if first else start_sandbox(self.host)
            if again is None:
                raise RuntimeError(f"{SANDBOX_MODULE} is missing")
            return again

        # Restarted when it dies (docs/hardening.md); the first server is the one just started.
        supervisor = SandboxSupervisor(start_again)
        supervisor.start()
        self._stops.append(supervisor.stop)
        self._stops.append(_forget_sandbox_url)

    def _start_server(self, app: Any) -> None:
        from chalice.local import LocalDevServer

        from chalicelib.local.serving import StackHTTPServer

        server = LocalDevServer(app, chalice_config(app), self.host, self.port,
                                handler_cls=request_handler_class(), server_cls=StackHTTPServer)
        self.port = server.server.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        thread = threading.Thread(target=server.server.serve_forever, name="chalice-local",
                                  daemon=True)
        thread.start()

        def stop_server() -> None:
            server.shutdown()
            server.server.server_close()
            thread.join(10)

        self._stops.append(stop_server)

    def _start_pollers(self, app: Any, queues: dict[str, str]) -> None:
        config = chalice_config(app)
        region = aws.client("sqs").meta.region_name
        for name, queue_setting in QUEUE_HANDLERS.items():
            handler = app.handler_map.get(name)
            if handler is None:
                log.warning("app has no %r handler: %s is not polled", name, queue_setting)
                continue
            poller = QueuePoller(queues[queue_setting], handler, lambda_context(config, name),
                                 name=name, wait_seconds=self._poll_wait_seconds)
            poller.start()
            self._stops.append(poller.stop)
        for name, interval in SCHEDULED_HANDLERS.items():
            handler = app.handler_map.get(name)
            if handler is None:
                log.warning("app has no %r handler: nothing runs on its schedule", name)
                continue
            ticker = ScheduleTicker(handler, lambda_context(config, name), name=name,
                                    region=region, interval=interval)
            ticker.start()
            self._stops.append(ticker.stop)


def request_handler_class() -> Any:
    """Chalice's local request handler, also passing other methods (TRACE, QUERY, ...) to the app.

    Chalice's handler knows only the methods API Gateway routes; the standard library answers
    any other with its own 501 page. Through the app they get the owning surface's 405.
    """
    from chalice.local import ChaliceRequestHandler

    class StackRequestHandler(ChaliceRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
            # The app logs every request itself, with its route pattern: this line would carry
            # the raw query string, where a secret key may be (`?secret=`).
            pass

        def __getattr__(self, name: str) -> Any:
            # BaseHTTPRequestHandler looks up "do_" + the request's method.
            if name.startswith("do_"):
                return self._generic_handle
            raise AttributeError(name)

    return StackRequestHandler


def _forget_sandbox_url() -> None:
    os.environ.pop("TASKPORT_SANDBOX_URL", None)


def _reset_caches() -> None:
    from chalicelib import auth
    from chalicelib.models import base

    aws.reset()
    auth.reset()
    base.reset()


def chalice_config(app: Any) -> Any:
    """The `dev` stage of .chalice/config.json, as Chalice's own `chalice local` reads it."""
    from chalice.config import Config

    config_path = PROJECT_DIR / ".chalice" / "config.json"
    from_disk = json.loads(config_path.read_text()) if config_path.exists() else {}
    return Config(chalice_stage=STAGE, config_from_disk=from_disk,
                  user_provided_params={"chalice_app": app, "project_dir": str(PROJECT_DIR)},
                  default_params={"api_gateway_stage": "api", "autogen_policy": False})


def lambda_context(config: Any, function_name: str) -> Callable[[], Any]:
    """A factory of Lambda context objects carrying the function's memory and timeout."""
    from chalice.local import LambdaContext

    scoped = config.scope(STAGE, function_name)

    def make() -> Any:
        return LambdaContext(function_name, scoped.lambda_memory_size,
                             max_runtime_ms=scoped.lambda_timeout * 1000)

    return make


def ensure_dev_account(saved: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ready `dev` account: the saved one (same id and secrets) when given, else new secrets.

    On a fresh emulator the saved account is created again with its old secrets; on a persistent
    one (AWS_ENDPOINT_URL) a saved secret still live is kept and any other is rotated.
    """
    from chalicelib import accounts, auth
    from chalicelib.errors import Conflict
    from chalicelib.models import accounts as store
    from chalicelib.models.accounts import CREDENTIAL_KINDS

    kept = dict((saved or {}).get("credentials") or {})
    if saved and all(kept.get(kind) for kind in CREDENTIAL_KINDS):
        try:
            account = store.create_account(
                account_id=saved["id"], handle=DEV_ACCOUNT, referrers=DEV_REFERRERS,
                credential_hashes={kind: auth.hash_secret(kept[kind]) for kind in CREDENTIAL_KINDS},
                default_workspace_id=uuid.uuid4().hex)
            return _dev_view(account, {kind: kept[kind] for kind in CREDENTIAL_KINDS})
        except Conflict:
            pass
    try:
        created = accounts.create_account(DEV_ACCOUNT, DEV_REFERRERS)
        return _dev_view(created.account, dict(created.secrets))
    except Conflict:
        account = accounts.get_account(DEV_ACCOUNT)
    secrets_now: dict[str, str] = {}
    for kind in CREDENTIAL_KINDS:
        live = store.find_credential(auth.hash_secret(kept[kind])) if kept.get(kind) else None
        if live is not None and live.kind == kind and live.account.account_id == account.account_id:
            secrets_now[kind] = kept[kind]
        else:
            account, secrets_now[kind] = accounts.rotate_credential(DEV_ACCOUNT, kind)
    return _dev_view(account, secrets_now)


def _dev_view(account: Any, secrets_by_kind: dict[str, str]) -> dict[str, Any]:
    return {"id": account.account_id, "handle": account.handle,
            "credentials": {**secrets_by_kind, "client_handle": account.handle}}


def read_dev_file(path: Path | None) -> dict[str, Any]:
    """What an earlier `make dev` kept in `path` ({} when there is nothing usable)."""
    if path is None or not path.exists():
        return {}
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("%s is unreadable; starting with new credentials", path)
        return {}
    return kept if isinstance(kept, dict) else {}


def write_dev_file(path: Path, stack: Stack) -> None:
    """Keep the URL, the generated admin token and the dev secrets in `path`, readable by its owner only."""
    kept: dict[str, Any] = {"url": stack.url, "account": stack.dev_account}
    if stack.admin_token_generated:  # a token the user set stays theirs, out of this file
        kept["admin_token"] = os.environ["TASKPORT_ADMIN_TOKEN"]
    # Created 0600 before any byte is written, so the secrets are never readable by others.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # Only a regular file is narrowed: TASKPORT_DEV_FILE=/dev/null (keep nothing) must not make
    # the machine's /dev/null root-only, which breaks every unprivileged process on it.
    if stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(kept, out, indent=2)
        out.write("\n")


def banner(stack: Stack) -> str:
    """What `make dev` prints on stdout once everything is up (secrets included: stdout only)."""
    url = stack.url
    token = os.environ["TASKPORT_ADMIN_TOKEN"]
    kept = f" (kept in {stack._dev_file}, mode 0600)" if stack._dev_file else ""
    lines = [
        f"Taskport is serving on {url}",
        f"  AWS endpoint:   {os.environ.get('AWS_ENDPOINT_URL')}",
        f"  tasks queue:    {os.environ.get('TASKPORT_TASKS_QUEUE')}",
        f"  webhooks queue: {os.environ.get('TASKPORT_WEBHOOKS_QUEUE')}",
        f"  sandbox:        {os.environ.get('TASKPORT_SANDBOX_URL') or '(none)'}",
        f"  API docs:       {url}/docs ({url}/openapi.json)",
        f"  admin token:    {token}" + (" (generated" + (kept and ", kept") + ")" if stack.admin_token_generated
                                        else " (from TASKPORT_ADMIN_TOKEN)"),
    ]
    if stack.dev_account:
        creds = stack.dev_account["credentials"]
        lines += [
            f"Account '{stack.dev_account['handle']}' ({stack.dev_account['id']}), "
            f"Referer whitelist {', '.join(DEV_REFERRERS)}{kept}:",
            *(f"  {kind + ':':14}  {value}" for kind, value in creds.items()),
            "For the taskport CLI and SDK, in another shell:",
            f"  export TASKPORT_URL={url}",
            f"  export TASKPORT_TOKEN={creds['token']} TASKPORT_SECRET_KEY={creds['secret_key']}",
            f"  export TASKPORT_CLIENT_HANDLE={creds['client_handle']} "
            f"TASKPORT_ACCESS_KEY={creds['access_key']}",
            "  taskport tasks create hello name=world --wait",
            "  taskport tasks ls",
            "Try:",
            f"  curl {url}/health",
            f"  curl -X POST {url}/admin/v1/accounts -H 'Authorization: Bearer {token}' "
            "-H 'Content-Type: application/json' -d '{\"handle\": \"acme\"}'",
            f"  curl {url}/admin/v1/accounts/dev -H 'Authorization: Bearer {token}'",
            f"  curl -X POST {url}/v1/create -H 'Authorization: Secret {creds['secret_key']}' "
            "-H 'Content-Type: application/json' "
            "-d '{\"tasks\": {\"task_name\": \"hello\", \"name\": \"world\"}, \"block\": true}'",
            f"  curl {url}/workflows -u {creds['client_handle']}:{creds['access_key']}",
            f"  curl {url}/api/v1/fs/list -H 'Authorization: Bearer {creds['token']}'",
        ]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on host:port already."""
    if port == 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server itself binds: connections of a previous run in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def main() -> int:
    """Run the stack until SIGINT or SIGTERM."""
    from chalicelib.config import get_settings

    host, port = "127.0.0.1", int(os.environ.get("PORT") or 8000)
    if port_in_use(host, port):
        print(f"make dev: port {port} on {host} is in use; stop what serves it or choose another: "
              f"make dev PORT={port + 1}", file=sys.stderr)
        return 1
    # Logs go to stderr and never carry a secret; the banner (stdout) is the only place they are shown.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the emulator logs every AWS call
    logging.getLogger("botocore").setLevel(logging.WARNING)
    from chalicelib.observability import logs

    logs.configure(stream="stderr")  # the taskport.* lines: readable, or JSON (TASKPORT_LOG_FORMAT)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    stack = Stack(host=host, port=port, dev_file=Path(get_settings().dev_file or DEV_FILE))
    try:
        stack.start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"make dev: port {port} on {host} was taken while starting; choose another: "
              f"make dev PORT={port + 1}", file=sys.stderr)
        return 1
    print(banner(stack), flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        print("Stopping...", flush=True)
        stack.stop()
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
