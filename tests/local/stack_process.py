"""The dev stack (`python -m chalicelib.local.stack`) as a child process for tests over real HTTP."""
from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import ADMIN_TOKEN

PROJECT_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
# The log of every stack this process started: a failing test is shown the lines written during
# it (tests/conftest.py), as a stack's pollers, sandbox and sender log what went wrong only there.
STACK_LOGS: list[Path] = []


class RunningStack(NamedTuple):
    """A started stack: its URL, process, the lines it printed so far and the queue of later ones."""

    url: str
    process: subprocess.Popen[str]
    output: list[str]
    lines: queue.Queue[str]
    reader: threading.Thread
    log: Path


@contextlib.contextmanager
def running_stack(dev_file: Path, **settings: str) -> Iterator[RunningStack]:
    """A stack on a free port with its own emulator and the tests' admin token, killed afterwards.

    `dev_file` keeps its dev credentials (never the checkout's .taskport-dev.json); `settings` are
    extra environment variables (TASKPORT_EGRESS_ALLOW, TASKPORT_WEBHOOK_SCHEDULE, ...).
    """
    from chalicelib.local.stack import free_port

    port = free_port()
    env = {**os.environ, "PORT": str(port), "TASKPORT_ADMIN_TOKEN": ADMIN_TOKEN,
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "PYTHONUNBUFFERED": "1",
           "TASKPORT_DEV_FILE": str(dev_file), **settings}
    # Its own emulator and its own supervised sandbox server, whatever this process points at.
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("TASKPORT_SANDBOX_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "chalicelib.local.stack"], cwd=PROJECT_DIR,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    stream = process.stdout
    assert stream is not None
    descriptor, log_name = tempfile.mkstemp(prefix="taskport-stack-", suffix=".log")
    log = Path(log_name)
    STACK_LOGS.append(log)

    def pump() -> None:
        with open(descriptor, "w", encoding="utf-8") as kept:
            for line in stream:
                kept.write(line)
                kept.flush()
                lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    output: list[str] = []
    try:
        while not any(line.startswith("Press Ctrl-C") for line in output):
            try:
                output.append(lines.get(timeout=START_TIMEOUT))
            except queue.Empty:
                pytest.fail("the stack did not start:\n" + "".join(output))
            if process.poll() is not None and lines.empty():
                pytest.fail("the stack exited:\n" + "".join(output))
        yield RunningStack(f"http://127.0.0.1:{port}", process, output, lines, reader, log)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
