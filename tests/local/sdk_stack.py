"""A dev stack for the SDK, CLI and examples tests: loopback reachable, fast webhook retries, a dev file."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.local.test_stack import PROJECT_DIR, _free_port

START_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def sdk_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`python -m chalicelib.local.stack` with its dev account; yields url, credentials and the env to export."""
    port = _free_port()
    dev_file = tmp_path_factory.mktemp("sdk") / "taskport-dev.json"
    env = {**os.environ, "PORT": str(port), "TASKPORT_ADMIN_TOKEN": ADMIN_TOKEN, "TASKPORT_DEV_FILE": str(dev_file),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "PYTHONUNBUFFERED": "1", "TASKPORT_EGRESS_ALLOW": "127.0.0.0/8", "TASKPORT_WEBHOOK_SCHEDULE": "1,1"}
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "chalicelib.local.stack"], cwd=PROJECT_DIR, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout or ():
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    output: list[str] = []
    try:
        while not any(line.startswith("Press Ctrl-C") for line in output):
            try:
                output.append(lines.get(timeout=START_TIMEOUT))
            except queue.Empty:
                pytest.fail("the stack did not start:\n" + "".join(output))
        kept = json.loads(dev_file.read_text())
        credentials = kept["account"]["credentials"]
        exported = {"TASKPORT_URL": kept["url"], **{f"TASKPORT_{k.upper()}": v for k, v in credentials.items()}}
        yield {"url": kept["url"], "credentials": credentials, "env": exported, "dev_file": Path(dev_file)}
    finally:
        process.kill()
        process.wait()


def client_for(stack: dict[str, Any]) -> Any:
    """A taskport.Client with the dev account's credentials."""
    from taskport import Client

    creds = stack["credentials"]
    return Client(stack["url"], token=creds["token"], secret_key=creds["secret_key"], api_key=creds["api_key"],
                  access_key=creds["access_key"], client_handle=creds["client_handle"])
