"""The local development stack (`make dev`): emulator, resources, routes, pollers, sandbox.

Run it with `python -m chalicelib.local.stack`; tests start it with `Stack(port=0).start()`.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any
from collections.abc import Callable

from chalicelib import aws
from chalicelib.local.pollers import QueuePoller, ScheduleTicker

log = logging.getLogger("taskport.local")

PROJECT_DIR = Path(__file__).resolve().parents[2]
STAGE = "dev"
DEFAULT_ADMIN_TOKEN = "taskport-dev-admin"
DEV_ACCOUNT = "dev"
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
                 create_dev_account: bool = True) -> None:
        self.host = host
        self.port = port
        self.url: str | None = None
        self.dev_account: dict[str, Any] | None = None
        self._poll_wait_seconds = poll_wait_seconds
        self._create_dev_account = create_dev_account
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
                self.dev_account = ensure_dev_account()
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
            os.environ["TASKPORT_ADMIN_TOKEN"] = DEFAULT_ADMIN_TOKEN
        _reset_caches()

    def _create_resources(self) -> dict[str, str]:
        from chalicelib.local.resources import ensure_resources

        queues = ensure_resources()
        os.environ["TASKPORT_TASKS_QUEUE"] = queues["tasks_queue"]
        os.environ["TASKPORT_WEBHOOKS_QUEUE"] = queues["webhooks_queue"]
        return queues

    def _start_sandbox(self) -> None:
        if os.environ.get("TASKPORT_SANDBOX_URL"):
            return
        started = start_sandbox(self.host)
        if started is None:
            log.info("no local sandbox server (%s is missing)", SANDBOX_MODULE)
            return
        url, stop = started
        self._stops.append(stop)
        self._stops.append(lambda: os.environ.pop("TASKPORT_SANDBOX_URL", None))
        os.environ["TASKPORT_SANDBOX_URL"] = url

    def _start_server(self, app: Any) -> None:
        from chalice.local import create_local_server

        server = create_local_server(app, chalice_config(app), self.host, self.port)
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


def ensure_dev_account() -> dict[str, Any]:
    """A ready `dev` account: created, or (on a persistent emulator) given fresh secrets."""
    from chalicelib import accounts
    from chalicelib.errors import Conflict
    from chalicelib.models.accounts import CREDENTIAL_KINDS

    try:
        created = accounts.create_account(DEV_ACCOUNT, DEV_REFERRERS)
        account, secrets = created.account, dict(created.secrets)
    except Conflict:
        secrets = {}
        for kind in CREDENTIAL_KINDS:
            account, secrets[kind] = accounts.rotate_credential(DEV_ACCOUNT, kind)
    return {"id": account.account_id, "handle": account.handle,
            "credentials": {**secrets, "client_handle": account.handle}}


def banner(stack: Stack) -> str:
    """What `make dev` prints once everything is up."""
    url = stack.url
    token = os.environ["TASKPORT_ADMIN_TOKEN"]
    lines = [
        f"Taskport is serving on {url}",
        f"  AWS endpoint:   {os.environ.get('AWS_ENDPOINT_URL')}",
        f"  tasks queue:    {os.environ.get('TASKPORT_TASKS_QUEUE')}",
        f"  webhooks queue: {os.environ.get('TASKPORT_WEBHOOKS_QUEUE')}",
        f"  sandbox:        {os.environ.get('TASKPORT_SANDBOX_URL') or '(none)'}",
        f"  admin token:    {token}",
    ]
    if stack.dev_account:
        creds = stack.dev_account["credentials"]
        lines += [
            f"Account '{stack.dev_account['handle']}' ({stack.dev_account['id']}), "
            f"Referer whitelist {', '.join(DEV_REFERRERS)}:",
            *(f"  {kind + ':':14}  {value}" for kind, value in creds.items()),
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


def main() -> int:
    """Run the stack until SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the emulator logs every AWS call
    logging.getLogger("botocore").setLevel(logging.WARNING)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    stack = Stack(host="127.0.0.1", port=int(os.environ.get("PORT") or 8000))
    stack.start()
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
