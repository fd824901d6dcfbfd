"""The per-call report: output, resources, status and the user's own traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from chalicelib import sandbox
from chalicelib.sandbox import CallReport, HttpCall, Limits
from chalicelib.sandbox.server import REPO_ROOT


def call_function(source: str, limits: Limits | None = None,
                  args: list | None = None) -> tuple[object, list[CallReport]]:
    """(the value or the SandboxError raised, the reports handed to on_report)."""
    reports: list[CallReport] = []
    try:
        value: object = sandbox.run_function(source, "user_script.py", "f", args or [], {},
                                             limits, on_report=reports.append)
    except sandbox.SandboxError as exc:
        value = exc
    return value, reports


def only_report(source: str, limits: Limits | None = None) -> CallReport:
    value, reports = call_function(source, limits)
    assert len(reports) == 1
    if isinstance(value, sandbox.SandboxError):
        assert value.report is reports[0]
    return reports[0]


def test_report_has_printed_output_when_the_call_succeeds():
    value, reports = call_function("def f():\n    print('hello', 42)\n    return 'done'\n")
    assert value == "done"
    assert [r.status for r in reports] == ["ok"]
    assert reports[0].stdout == "hello 42\n"
    assert reports[0].stderr == "" and reports[0].error is None
    assert not reports[0].stdout_truncated and not reports[0].stderr_truncated


def test_report_has_stderr_written_at_the_descriptor_level():
    report = only_report("import os, sys, subprocess\n"
                         "def f():\n"
                         "    print('via print', file=sys.stderr)\n"
                         "    os.write(2, b'via fd 2\\n')\n"
                         "    os.write(1, b'via fd 1\\n')\n"
                         "    subprocess.run(['/bin/sh', '-c', 'echo from a child >&2'])\n")
    assert report.stderr == "via print\nvia fd 2\nfrom a child\n"
    assert report.stdout == "via fd 1\n"


def test_report_output_is_cut_at_the_cap_and_flagged():
    at_cap = only_report("def f():\n    print('x' * 99)\n", Limits(log_bytes=100))
    assert (len(at_cap.stdout), at_cap.stdout_truncated) == (100, False)
    over = only_report("import sys\ndef f():\n    print('y' * 5000)\n"
                       "    sys.stderr.write('z' * 101)\n", Limits(log_bytes=100))
    assert (over.stdout, over.stdout_truncated) == ("y" * 100, True)
    assert (over.stderr, over.stderr_truncated) == ("z" * 100, True)


def test_report_output_cap_defaults_to_the_setting(monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_RUN_OUTPUT_BYTES", "10")
    config.get_settings.cache_clear()
    report = only_report("def f():\n    print('0123456789abcdef')\n")
    assert (report.stdout, report.stdout_truncated) == ("0123456789", True)


def test_report_traceback_holds_the_users_frames_only():
    source = ("def helper(x):\n"
              "    return 1 / x\n"
              "\n"
              "def f():\n"
              "    print('before the failure')\n"
              "    return helper(0)\n")
    value, reports = call_function(source)
    assert isinstance(value, sandbox.ScriptError)
    report = reports[0]
    assert report.status == "error" and report.stdout == "before the failure\n"
    assert report.error is not None
    assert report.error["type"] == "ZeroDivisionError"
    assert report.error["message"] == "division by zero"
    trace = report.error["traceback"]
    assert 'File "user_script.py", line 6, in f' in trace
    assert 'File "user_script.py", line 2, in helper' in trace
    assert "return 1 / x" in trace  # the user's own source line
    assert "chalicelib" not in trace and "sandbox" not in trace
    assert trace.rstrip().endswith("ZeroDivisionError: division by zero")
    assert value.traceback == trace


def test_report_traceback_of_a_syntax_error_points_at_the_script():
    report = only_report("def f(:\n    pass\n")
    assert report.status == "error" and report.error is not None
    assert 'File "user_script.py", line 1' in report.error["traceback"]
    assert "chalicelib" not in report.error["traceback"]


def test_report_counts_cpu_and_memory_of_the_call():
    light = only_report("def f():\n    return 1\n")
    assert light.cpu_ms > 0 and light.max_rss_bytes > 1024 * 1024
    heavy = only_report("def f():\n"
                        "    block = bytearray(64 * 1024 * 1024)\n"
                        "    for i in range(0, len(block), 4096):\n"
                        "        block[i] = 1\n"
                        "    total = 0\n"
                        "    for i in range(2_000_000):\n"
                        "        total += i\n"
                        "    return total\n")
    assert heavy.status == "ok"
    assert heavy.max_rss_bytes >= light.max_rss_bytes + 60 * 1024 * 1024
    assert heavy.cpu_ms > light.cpu_ms + 20
    assert heavy.duration_ms >= heavy.cpu_ms * 0.5


def test_report_counts_cpu_of_children_the_call_waited_for():
    busy = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"
    report = only_report("import subprocess\n"
                         "def f():\n"
                         f"    subprocess.run(['/bin/sh', '-c', {busy!r}], check=True)\n")
    assert report.status == "ok", report.error
    assert report.cpu_ms > 50  # the shell's loop, counted once the call reaped it


def test_report_status_timeout_when_the_wall_clock_runs_out():
    report = only_report("import time\ndef f():\n    print('waiting')\n    time.sleep(10)\n",
                         Limits(wall_seconds=0.5))
    assert report.status == "timeout" and report.error is not None
    assert report.error["type"] == "Timeout"
    assert 400 <= report.duration_ms < 5000


def test_report_status_timeout_when_the_cpu_limit_is_reached():
    report = only_report("def f():\n    while True:\n        pass\n",
                         Limits(wall_seconds=10, cpu_seconds=1))
    assert report.status == "timeout"
    assert report.cpu_ms >= 900


def test_report_status_killed_by_a_signal():
    report = only_report("import os, signal\ndef f():\n    print('going')\n"
                         "    os.kill(os.getpid(), signal.SIGKILL)\n")
    assert report.status == "killed" and report.error is not None
    assert "SIGKILL" in report.error["message"]


def test_report_status_killed_at_the_memory_limit():
    report = only_report("def f():\n    return len(bytearray(400 * 1024 * 1024))\n",
                         Limits(memory_bytes=64 * 1024 * 1024))
    assert report.status == "killed" and report.error is not None
    assert report.error["type"] == "MemoryError"


def test_report_status_refused_for_a_refused_answer():
    assert only_report("def f():\n    return object()\n").status == "refused"
    assert only_report("def f():\n    return 'x' * 5000\n",
                       Limits(output_bytes=1000)).status == "refused"
    reports: list[CallReport] = []
    with pytest.raises(sandbox.Refused):
        sandbox.run_http_handler("from flask import Response\ndef handler(request):\n"
                                 "    print('rendering')\n"
                                 "    return Response('<b>x</b>', mimetype='text/html')\n",
                                 "h.py", HttpCall("GET", "/"), on_report=reports.append)
    assert [(r.status, r.stdout) for r in reports] == [("refused", "rendering\n")]


def test_report_of_an_http_handler_call():
    reports: list[CallReport] = []
    answer = sandbox.run_http_handler("def handler(request):\n    print(request.method)\n"
                                      "    return 'hi'\n", "h.py", HttpCall("PUT", "/"),
                                      on_report=reports.append)
    assert answer.body == b"hi"
    assert [(r.status, r.stdout) for r in reports] == [("ok", "PUT\n")]


def test_report_status_error_when_the_sandbox_cannot_be_reached(monkeypatch):
    import socket

    from chalicelib import config

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("TASKPORT_SANDBOX_URL", f"http://127.0.0.1:{port}")
    config.get_settings.cache_clear()
    report = only_report("def f():\n    return 1\n")
    assert report.status == "error" and report.error is not None
    assert report.error["type"] == "Crashed" and report.cpu_ms == 0


def test_report_comes_back_on_the_lambda_path(monkeypatch):
    import io

    from chalicelib import aws, config
    from chalicelib.sandbox import aws_lambda

    class LambdaClient:
        """Stands in for boto3's Lambda client: hands the payload to the sandbox function body."""

        def invoke(self, FunctionName: str, InvocationType: str, Payload: str) -> dict:
            answer = aws_lambda.handle(json.loads(Payload))
            return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}

    monkeypatch.setenv("TASKPORT_SANDBOX_MODE", "lambda")
    config.get_settings.cache_clear()
    monkeypatch.setattr(aws, "client", lambda service: LambdaClient())
    ok = only_report("def f():\n    print('on lambda')\n    return 3\n")
    assert (ok.status, ok.stdout) == ("ok", "on lambda\n")
    assert ok.cpu_ms > 0 and ok.max_rss_bytes > 0
    failed = only_report("def f():\n    raise ValueError('bad')\n")
    assert failed.status == "error" and failed.error is not None
    assert 'File "user_script.py", line 2, in f' in failed.error["traceback"]


def test_has_exited_is_true_for_an_exited_child():
    from chalicelib.sandbox import parent

    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os._exit(0)
    try:
        deadline = time.monotonic() + 5
        while not parent._has_exited(pid):
            assert time.monotonic() < deadline, "the child never showed as exited"
            time.sleep(0.01)
    finally:
        os.waitpid(pid, 0)


# Without a uid per call (the parent not root, as on Lambda) a call can kill the spares
# waiting beside it; the next call must pass over them. As root, the non-root path is taken by
# telling the runner it is not root.
SPARES_KILLED = """
import json, os, signal
if os.geteuid() == 0:
    os.geteuid = lambda: 1000
from chalicelib.sandbox import parent
from chalicelib.sandbox.wire import Limits, decode_frame

KILL_SIBLINGS = '''
import os, signal
def f():
    killed = 0
    for name in os.listdir('/proc'):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            fields = open(f'/proc/{name}/stat').read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getppid() and int(fields[3]) == int(name):  # spares: setsid
            os.kill(int(name), signal.SIGKILL)
            killed += 1
    return killed
'''

def call(source):
    frame, clean_up = parent.execute({"kind": "function", "source": source, "filename": "t.py",
                                      "function": "f", "args": [], "kwargs": {}}, b"",
                                     Limits(wall_seconds=10))
    clean_up()
    header, body = decode_frame(frame)
    return json.loads(body) if header["outcome"] == "ok" else header

parent.prepare()
import time
deadline = time.monotonic() + 20
while len(parent._nursery()._ready) < parent.POOL_SIZE and time.monotonic() < deadline:
    time.sleep(0.05)
killed = call(KILL_SIBLINGS)
print(json.dumps({"killed": killed, "next": call("def f():\\n    return 'still serving'\\n")}))
"""


# The killed spare may not have run since the kill when the next call is written to it: it is
# not yet seen as exited, and the kernel may even read the call into it. It never says TAKEN,
# so the call goes to another spare (this failed about one run in twelve before).
def test_next_call_passes_over_spares_a_call_killed_without_uids():
    done = subprocess.run([sys.executable, "-c", SPARES_KILLED], cwd=REPO_ROOT,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": REPO_ROOT},
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout.decode().splitlines()[-1])
    assert out["killed"] >= 1  # the path under test was taken
    assert out["next"] == "still serving"


def test_output_cap_is_capped_by_the_sandbox_side(monkeypatch):
    from chalicelib.sandbox import maxima

    monkeypatch.setenv("TASKPORT_RUN_OUTPUT_BYTES", "50")
    from chalicelib import config

    config.get_settings.cache_clear()
    most = maxima.from_settings()
    assert maxima.capped(Limits(log_bytes=10_000_000), most).log_bytes == 50
