"""What `import app` (every Lambda function's cold start) leaves for first use, and that it makes
no network call (docs/performance.md)."""
from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
# Each is imported where it is used; any of them at import time costs every function's cold start.
DEFERRED = [
    "aws_lambda_powertools",  # the JSON log formatter and EMF metrics, at the first line or metric
    "boto3",  # clients are built on first use (chalicelib.aws)
    "chalicelib.engine.janitor",  # the janitor function's handler
    "chalicelib.engine.worker",  # the task worker function's handler
    "chalicelib.endpoints",  # the HTTP-endpoint routes (instabase)
    "chalicelib.openapi",  # /openapi.json and /docs
    "chalicelib.sandbox.aws_lambda",  # the sandbox function's handler
    "chalicelib.sandbox.runner",  # fork, limits, ctypes: the sandbox function only
    "ctypes",
    "email.policy",  # multipart package uploads
    "flask",  # user code's requests, in the sandbox
    "jsonschema",  # account task types with a params_schema
    "PIL",  # image tasks
]
# Before `import app`: every socket connection attempt is recorded (and refused).
PROBE = """
import json, socket, sys
attempts = []
def refuse(self, address, *args):
    attempts.append(repr(address))
    raise OSError("no connection at import time")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
import app
print(json.dumps({"loaded": sorted(m for m in %r if m in sys.modules), "connections": attempts}))
"""


@functools.cache
def _import_app() -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE % (DEFERRED,)], cwd=PROJECT,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_app_leaves_heavy_modules_for_their_first_use():
    assert _import_app()["loaded"] == []


def test_import_app_opens_no_connection():
    assert _import_app()["connections"] == []
