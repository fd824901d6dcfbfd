"""Calls into the sandbox: functions, HTTP handlers and what they may return."""
from __future__ import annotations

import base64
import json

import pytest

from chalicelib import sandbox
from chalicelib.sandbox import HttpCall, Limits

ECHO = '''
import json
from flask import Request, Response

def handler(request: Request, *args, **kwargs):
    seen = {
        "method": request.method, "path": request.path, "args": request.args.to_dict(flat=False),
        "header": request.headers.get("X-Probe"), "json": request.get_json(silent=True),
        "form": request.form.to_dict(), "data": request.get_data(as_text=True),
        "extra": [list(args), kwargs],
    }
    return Response(json.dumps(seen), mimetype="application/json", status=201,
                    headers={"X-Handler": "echo"})
'''


def echo(call: HttpCall) -> dict:
    answer = sandbox.run_http_handler(ECHO, "echo.py", call)
    assert answer.status == 201
    assert answer.headers["X-Handler"] == "echo"
    assert answer.mimetype == "application/json"
    return json.loads(answer.body)


def test_function_returns_its_json_value():
    assert sandbox.run_function("def add(a, b=1):\n    return {'sum': a + b}\n", "add.py", "add",
                                [2], {"b": 3}) == {"sum": 5}


def test_function_returning_non_json_is_refused():
    with pytest.raises(sandbox.Refused) as caught:
        sandbox.run_function("def f():\n    return object()\n", "f.py", "f", [], {})
    assert caught.value.status_code == 502


def test_exception_carries_type_and_message():
    with pytest.raises(sandbox.ScriptError) as caught:
        sandbox.run_function("def f():\n    raise KeyError('nope')\n", "f.py", "f", [], {})
    assert caught.value.error_type == "KeyError"
    assert caught.value.error_message == "'nope'"
    assert "f.py" in caught.value.traceback
    assert caught.value.status_code == 500


def test_syntax_error_is_a_script_error():
    with pytest.raises(sandbox.ScriptError) as caught:
        sandbox.run_function("def f(:\n", "broken.py", "f", [], {})
    assert caught.value.error_type == "SyntaxError"


def test_missing_function_is_named():
    with pytest.raises(sandbox.ScriptError) as caught:
        sandbox.run_function("x = 1\n", "empty.py", "handler", [], {})
    assert "handler" in caught.value.error_message


def test_handler_gets_json_request():
    seen = echo(HttpCall("POST", "/api/v1/http-endpoint/u/echo",
                         {"Content-Type": "application/json", "X-Probe": "p"},
                         {"a": ["1", "2"]}, b'{"k": [1, 2]}', args=["pos"], kwargs={"kw": 1}))
    assert seen["method"] == "POST"
    assert seen["path"] == "/api/v1/http-endpoint/u/echo"
    assert seen["args"] == {"a": ["1", "2"]}
    assert seen["header"] == "p"
    assert seen["json"] == {"k": [1, 2]}
    assert seen["extra"] == [["pos"], {"kw": 1}]


def test_handler_gets_a_real_flask_request():
    source = ("import flask\n"
              "def handler(request, *args, **kwargs):\n"
              "    return type(request).__module__ + '.' + type(request).__name__ + ' ' + \\\n"
              "        str(isinstance(request, flask.Request))\n")
    answer = sandbox.run_http_handler(source, "h.py", HttpCall("GET", "/"))
    assert answer.body == b"flask.wrappers.Request True"


def test_handler_gets_form_and_raw_data():
    form = echo(HttpCall("PUT", "/f", {"Content-Type": "application/x-www-form-urlencoded"},
                         body=b"name=Jay+Doe&x=1"))
    assert form["form"] == {"name": "Jay Doe", "x": "1"}
    raw = echo(HttpCall("PATCH", "/r", {"Content-Type": "text/csv"}, body=b"a,b\n1,2\n"))
    assert raw["data"] == "a,b\n1,2\n"


def test_str_answer_is_text_plain():
    answer = sandbox.run_http_handler("def handler(request):\n    return 'Hello World'\n", "h.py",
                                      HttpCall("GET", "/"))
    assert (answer.status, answer.mimetype, answer.body) == (200, "text/plain", b"Hello World")


def test_empty_response_passes_whatever_its_mimetype():
    source = "from flask import Response\ndef handler(request):\n    return Response(status=404)\n"
    answer = sandbox.run_http_handler(source, "h.py", HttpCall("DELETE", "/"))
    assert answer.status == 404 and answer.body == b""


@pytest.mark.parametrize("returned", ["Response('<b>hi</b>', mimetype='text/html')",
                                      "{'a': 1}", "b'bytes'", "None", "('x', 200)"])
def test_other_answers_are_refused(returned):
    source = f"from flask import Response\ndef handler(request):\n    return {returned}\n"
    with pytest.raises(sandbox.Refused) as caught:
        sandbox.run_http_handler(source, "h.py", HttpCall("GET", "/"))
    assert "application/json or text/plain" in caught.value.message


def test_binary_body_round_trips():
    payload = bytes(range(256))
    source = ("import base64\nfrom flask import Response\n"
              "def handler(request):\n"
              "    return Response(base64.b64encode(request.get_data()), mimetype='text/plain')\n")
    answer = sandbox.run_http_handler(source, "h.py", HttpCall("POST", "/", {
        "Content-Type": "application/octet-stream"}, body=payload))
    assert base64.b64decode(answer.body) == payload


def test_limits_default_from_settings(monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_HANDLER_WALL_SECONDS", "0.5")
    config.get_settings.cache_clear()
    assert Limits().resolved().wall_seconds == 0.5
    with pytest.raises(sandbox.Timeout):
        sandbox.run_function("import time\ndef f():\n    time.sleep(5)\n", "f.py", "f", [], {})


def test_lambda_mode_runs_the_same_forked_path(monkeypatch):
    from chalicelib import aws, config
    from chalicelib.sandbox import aws_lambda

    class LambdaClient:
        """Stands in for boto3's Lambda client: hands the payload to the sandbox function body."""

        def __init__(self) -> None:
            self.invoked: list[str] = []

        def invoke(self, FunctionName: str, InvocationType: str, Payload: str) -> dict:
            import io

            self.invoked.append(FunctionName)
            answer = aws_lambda.handle(json.loads(Payload))
            return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}

    fake = LambdaClient()
    monkeypatch.setenv("TASKPORT_SANDBOX_MODE", "lambda")
    monkeypatch.setenv("TASKPORT_SANDBOX_FUNCTION", "taskport-test-sandbox")
    config.get_settings.cache_clear()
    monkeypatch.setattr(aws, "client", lambda service: fake)
    assert sandbox.run_function("def f(x):\n    return x * 3\n", "f.py", "f", [7], {}) == 21
    with pytest.raises(sandbox.ScriptError):
        sandbox.run_function("def f():\n    1 / 0\n", "f.py", "f", [], {})
    assert fake.invoked == ["taskport-test-sandbox", "taskport-test-sandbox"]


def test_unknown_mode_is_a_configuration_error(monkeypatch):
    from chalicelib import config
    from chalicelib.errors import ConfigurationError

    monkeypatch.setenv("TASKPORT_SANDBOX_MODE", "inline")
    config.get_settings.cache_clear()
    with pytest.raises(ConfigurationError):
        sandbox.run_function("def f():\n    return 1\n", "f.py", "f", [], {})


def test_served_sandbox_answers_over_http(monkeypatch):
    from chalicelib import config
    from chalicelib.sandbox import server

    url, stop = server.serve()
    try:
        monkeypatch.setenv("TASKPORT_SANDBOX_URL", url)
        config.get_settings.cache_clear()
        assert sandbox.run_function("def f():\n    return 'served'\n", "f.py", "f", [], {}) == "served"
    finally:
        stop()


def test_server_entry_starts_once_scrubbed_without_a_locale():
    """Python sets LC_CTYPE itself when no locale is given: the re-exec must not loop on it."""
    import os
    import select
    import subprocess
    import sys

    from chalicelib.sandbox.server import REPO_ROOT

    process = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.sandbox.server"], cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": REPO_ROOT, "AWS_SECRET_ACCESS_KEY": "x"},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    assert process.stdout is not None  # stdin is DEVNULL and stderr inherited: no pipes
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready and process.stdout.readline().startswith(b"unix:")
        if os.geteuid() == 0:  # the server is not dumpable: only root may read its environ
            with open(f"/proc/{process.pid}/environ", "rb") as environ:
                assert b"AWS_" not in environ.read()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.mark.parametrize("flags, signal_name", [
    ([], "SIGINT"),  # Ctrl-C in `make dev` reaches the sandbox server too
    (["--exit-with-stdin"], "SIGTERM"),  # stop() while it waits on its starter's pipe
])
def test_server_entry_stops_quietly(flags: list[str], signal_name: str):
    """Exit 0, with no traceback and no fatal error (a daemon thread blocked in stdin's
    buffered reader once made the interpreter's shutdown abort)."""
    import select
    import signal
    import subprocess
    import sys

    from chalicelib.sandbox.server import REPO_ROOT

    process = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.sandbox.server", *flags], cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": REPO_ROOT},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None and process.stdin is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready and process.stdout.readline().startswith(b"unix:")
        process.send_signal(getattr(signal, signal_name))
        process.wait(timeout=10)
        errors = process.stderr.read()
        assert process.returncode == 0, (process.returncode, errors)
        assert b"Traceback" not in errors and b"Fatal" not in errors, errors
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()


def test_spawned_server_exits_when_its_starter_dies_without_stopping_it():
    """A starter killed outright (no stop(), no atexit) leaves no sandbox server behind."""
    import socket
    import subprocess
    import sys
    import time

    from chalicelib.sandbox.server import REPO_ROOT

    starter = subprocess.run(
        [sys.executable, "-c", "import os\n"
         "from chalicelib.sandbox.server import spawn\n"
         "url, stop = spawn()\n"
         "print(url, flush=True)\n"
         "os._exit(0)\n"],
        cwd=REPO_ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": REPO_ROOT},
        capture_output=True, timeout=60, check=True)
    url = starter.stdout.decode().strip()
    assert url.startswith("unix:")
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(2)
                probe.connect(url[len("unix:"):])
        except OSError:
            break  # nothing listens any more: the server is gone
        assert time.monotonic() < deadline, "the sandbox server outlived its starter"
        time.sleep(0.1)
