"""Sandbox call latency for a trivial handler, beside two baselines measured in the same run.

    python bench/sandbox_latency.py [calls]

Rows: the sandbox (local mode: a private warm server that forks a contained child per call),
a fresh `python script.py` subprocess per call, and an in-process call (the floor).
Then the AWS calls a warm trigger makes, counted at botocore against moto.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HANDLER = '''
from flask import Response

def handler(request, *args, **kwargs):
    if request.method == "GET":
        return Response("Hello World", mimetype="text/plain")
    return Response(status=404)
'''
STANDALONE = HANDLER + '''
from flask import Request
from werkzeug.test import EnvironBuilder
print(handler(Request(EnvironBuilder(path="/", method="GET").get_environ())).get_data())
'''


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def time_calls(calls: int, run) -> list[float]:
    run()  # warm
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def sandbox_row(calls: int) -> list[float]:
    from chalicelib import sandbox

    call = sandbox.HttpCall("GET", "/api/v1/http-endpoint/u/hello")
    return time_calls(calls, lambda: sandbox.run_http_handler(HANDLER, "hello.py", call))


def subprocess_row(calls: int) -> list[float]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(STANDALONE)
    try:
        return time_calls(calls, lambda: subprocess.run([sys.executable, script.name], check=True,
                                                        capture_output=True))
    finally:
        os.unlink(script.name)


def in_process_row(calls: int) -> list[float]:
    from flask import Request
    from werkzeug.test import EnvironBuilder

    namespace: dict = {}
    exec(compile(HANDLER, "hello.py", "exec"), namespace)

    def run() -> None:
        namespace["handler"](Request(EnvironBuilder(path="/", method="GET").get_environ()))

    return time_calls(calls, run)


def aws_calls_per_warm_trigger() -> list[str]:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "TASKPORT_ADMIN_TOKEN": "bench"})
    from chalicelib import aws

    aws.reset()
    import json
    from urllib.parse import quote

    from botocore.client import BaseClient
    from chalice.test import Client
    from moto import mock_aws

    from app import app
    from chalicelib.local.resources import ensure_resources

    calls: list[str] = []
    original = BaseClient._make_api_call

    def counted(self, operation_name, api_params):
        calls.append(f"{self.meta.service_model.service_name}.{operation_name}")
        return original(self, operation_name, api_params)

    with mock_aws():
        ensure_resources()
        with Client(app) as client:
            admin = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
            account = json.loads(client.http.post("/admin/v1/accounts", headers=admin,
                                                  body=json.dumps({"handle": "bench"})).body)
            auth = {"Authorization": f"Bearer {account['credentials']['token']}"}
            client.http.put(f"/api/v1/fs/files?path={quote('/b/hello.py')}",
                            body=HANDLER.encode(), headers={**auth, "Content-Type": "text/plain"})
            client.http.put("/api/v1/http-endpoint/hello", headers={
                **auth, "Content-Type": "application/json"}, body=json.dumps(
                {"path": "hello", "handler_script_path": "/b/hello.py"}))
            client.http.get("/api/v1/http-endpoint/u/hello", headers=auth)
            BaseClient._make_api_call = counted
            try:
                client.http.get("/api/v1/http-endpoint/u/hello", headers=auth)
            finally:
                BaseClient._make_api_call = original
    return calls


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rows = [("sandbox call (warm parent, fork per call)", sandbox_row(calls)),
            ("fresh `python script.py` per call", subprocess_row(max(20, calls // 10))),
            ("in-process call (floor)", in_process_row(calls))]
    print(f"{'trivial handler':45} {'p50 ms':>9} {'p99 ms':>9} {'n':>5}")
    for name, samples in rows:
        p50, p99 = percentiles(samples)
        print(f"{name:45} {p50:9.2f} {p99:9.2f} {len(samples):5d}")
    print("target: sandbox p50 <= 5 ms")
    made = aws_calls_per_warm_trigger()
    print(f"AWS calls per warm trigger: {len(made)} ({', '.join(made) or 'none'}); target 1 or 0")


if __name__ == "__main__":
    main()
