"""Sandbox call latency for a trivial handler, beside two baselines measured in the same run.

    python bench/sandbox_latency.py [calls]

Rows: the sandbox (local mode: a private warm server that hands each call to a contained child
forked ahead of time), timed twice: calls one after another with no pause (the replacement
child and the clean-up of each call compete with the next call for the CPUs) and calls 50 ms
apart (20 calls/s: that work is done between calls). Then a fresh `python script.py`
subprocess per call, an in-process call (the floor), and what the machine charges for the
pieces: a bare fork + pipe round trip of a process with Flask imported, and one HTTP round
trip to the sandbox server. The load average is printed before and after.
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


def time_calls(calls: int, run, pause: float = 0.0) -> list[float]:
    run()  # warm
    samples = []
    for _ in range(calls):
        time.sleep(pause)
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def sandbox_row(calls: int, pause: float = 0.0) -> list[float]:
    from chalicelib import sandbox

    call = sandbox.HttpCall("GET", "/api/v1/http-endpoint/u/hello")

    def run() -> None:
        answer = sandbox.run_http_handler(HANDLER, "hello.py", call)
        assert answer.body == b"Hello World", answer

    return time_calls(calls, run, pause)


FORK_ROUND_TRIPS = """
import json, os, sys, time
from chalicelib.sandbox import runner
import flask, werkzeug.test  # what the sandbox's parent holds
samples = []
for _ in range(int(sys.argv[1]) + 1):
    start = time.perf_counter()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_fd, b"x")
        os._exit(0)
    os.close(write_fd)
    os.read(read_fd, 1)
    os.close(read_fd)
    os.waitpid(pid, 0)
    samples.append((time.perf_counter() - start) * 1000)
print(json.dumps(samples[1:]))
"""


def fork_row(calls: int) -> list[float]:
    """In a process the size of the sandbox's parent: fork, the child writes a byte to a pipe
    and exits, the parent reads it and reaps the child."""
    import json

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", FORK_ROUND_TRIPS, str(calls)], check=True,
                          capture_output=True, cwd=repo, env={**os.environ, "PYTHONPATH": repo})
    return json.loads(done.stdout)


def sandbox_rows(calls: int) -> tuple[list[tuple[str, list[float]]], tuple[float, float]]:
    """Both sandbox rows, and the CPU (ms) and page faults the sandbox server and every process
    under it spent per call."""
    client.local_url()
    server = _sandbox_server_pid()
    before = _tree_usage(server)
    rows = [("sandbox call, one after another", sandbox_row(calls)),
            ("sandbox call, 50 ms apart", sandbox_row(calls, pause=0.05))]
    after = _tree_usage(server)
    made = 2 * (calls + 1)
    return rows, ((after[0] - before[0]) / made, (after[1] - before[1]) / made)


def _sandbox_server_pid() -> int:
    children = _children()
    for pid in children.get(os.getpid(), []):
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            if b"chalicelib.sandbox.server" in cmdline.read():
                return pid
    raise RuntimeError("the private sandbox server is not running")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(name))
    return tree


def _tree_usage(root: int) -> tuple[float, int]:
    """CPU ms (user + system) and minor page faults of `root` and every live process under it,
    each with its reaped children (the zygote, say, is never reaped while the server runs)."""
    tree, cpu, faults = _children(), 0.0, 0
    pending = [root]
    while pending:
        pid = pending.pop()
        pending.extend(tree.get(pid, []))
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        faults += int(fields[7]) + int(fields[8])  # minflt, cminflt
        cpu += sum(int(f) for f in fields[11:15]) * 1000 / os.sysconf("SC_CLK_TCK")
    return cpu, faults


def http_hop_row(calls: int) -> list[float]:
    """GET /health on the sandbox server over a kept-alive connection: the transport alone."""
    import socket

    from chalicelib.sandbox import http1, server

    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(10)
    connection.connect(server.socket_path(client.local_url()))
    reader = connection.makefile("rb")

    def run() -> None:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: sandbox\r\n\r\n")
        head = http1.read_head(reader)
        http1.read_body(reader, head.content_length() or 0)

    try:
        return time_calls(calls, run)
    finally:
        reader.close()
        connection.close()


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


from chalicelib.sandbox import client  # noqa: E402 - after the path is set


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(f"load average before: {load()} ({os.cpu_count()} CPUs)")
    sandbox, (cpu_per_call, faults_per_call) = sandbox_rows(calls)
    rows = [*sandbox,
            ("fresh `python script.py` per call", subprocess_row(max(20, calls // 10))),
            ("in-process call (floor)", in_process_row(calls)),
            ("  cost: bare fork + pipe round trip", fork_row(calls)),
            ("  cost: HTTP round trip to the sandbox server", http_hop_row(calls))]
    client.stop_local()
    print(f"{'trivial handler':48} {'p50 ms':>9} {'p99 ms':>9} {'n':>5}")
    for name, samples in rows:
        p50, p99 = percentiles(samples)
        print(f"{name:48} {p50:9.2f} {p99:9.2f} {len(samples):5d}")
    print(f"CPU per sandbox call (server, zygote, spare's set-up, call, clean-up): "
          f"{cpu_per_call:.1f} ms; page faults per call: {faults_per_call:.0f}")
    print("target: sandbox p50 <= 5 ms")
    print(f"load average after: {load()}")
    made = aws_calls_per_warm_trigger()
    print(f"AWS calls per warm trigger: {len(made)} ({', '.join(made) or 'none'}); target 1 or 0"
          " (on AWS the trigger also invokes the sandbox Lambda: lambda.Invoke runs the code)")


if __name__ == "__main__":
    main()
