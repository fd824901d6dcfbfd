"""Sandbox fixtures: a sandbox server forked from a parent that holds secrets (the worst case)."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from chalicelib.sandbox.server import REPO_ROOT

CANARY = "canary-3f1e9b"

DIRTY_SERVER = """
import os, resource, signal, sys, threading
from chalicelib.sandbox import server
# An inheritable descriptor at the highest number allowed: children must close it too.
os.dup2(os.open(os.devnull, os.O_RDONLY), resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 1)
url, stop = server.serve_in_process()
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
print(url, flush=True)
threading.Event().wait()
"""


@pytest.fixture(scope="session")
def dirty_sandbox_url() -> Iterator[str]:
    """A sandbox server started in-process (no re-exec) with credentials in its environment."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": REPO_ROOT,
           "AWS_ACCESS_KEY_ID": f"AKIA{CANARY}", "AWS_SECRET_ACCESS_KEY": CANARY,
           "TASKPORT_ADMIN_TOKEN": CANARY}
    process = subprocess.Popen([sys.executable, "-c", DIRTY_SERVER], env=env, cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    url = process.stdout.readline().decode().strip()
    assert url.startswith("unix:"), url
    yield url
    process.terminate()  # not kill(): the server removes its calls' directory on the way out
    process.wait()
    process.stdout.close()


@pytest.fixture
def dirty_sandbox(dirty_sandbox_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Route this test's sandbox calls to the dirty server."""
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_SANDBOX_URL", dirty_sandbox_url)
    config.get_settings.cache_clear()
    return dirty_sandbox_url
