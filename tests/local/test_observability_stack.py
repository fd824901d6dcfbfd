"""The local stack's whole log, after a run through every surface: JSON lines with their ids,
and not one secret (credentials, Authorization values, webhook secret and signatures, presigned
URL signatures, the admin token)."""
from __future__ import annotations

import base64
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.local.test_stack import _call, _free_port

PROJECT_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0
SCRIPT = '''def handler(request, *args, **kwargs):
    print("handled", request.path)
    return "fine"
'''
PACKAGE = '''def hello(name="you"):
    print("greeting", name)
    return "hi " + name
'''


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Receiver.received.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802 - serves the image the thumbnail task fetches
        from PIL import Image

        out = io.BytesIO()
        Image.new("RGB", (64, 48), "red").save(out, "PNG")
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(out.getvalue())))
        self.end_headers()
        self.wfile.write(out.getvalue())

    def log_message(self, *args: Any) -> None:
        pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _raw(url: str, method: str = "GET", body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A stack with JSON logs driven through every surface; its log and the secrets it used."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver = f"http://127.0.0.1:{server.server_address[1]}"
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "TASKPORT_ADMIN_TOKEN": ADMIN_TOKEN,
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "PYTHONUNBUFFERED": "1",
           "TASKPORT_LOG_FORMAT": "json", "TASKPORT_EGRESS_ALLOW": "127.0.0.0/8",
           "TASKPORT_WEBHOOK_SCHEDULE": "0,0",
           "TASKPORT_DEV_FILE": str(tmp_path_factory.mktemp("dev") / "taskport-dev.json")}
    env.pop("AWS_ENDPOINT_URL", None)
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"taskport-obs-{port}.log"
    with open(log_path, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "chalicelib.local.stack"],
                                   cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE,
                                   stderr=stderr, text=True)
    out: list[str] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not any(line.startswith("Press Ctrl-C") for line in out):
            assert time.monotonic() < deadline and process.poll() is None, "".join(out)
            assert process.stdout is not None
            out.append(process.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        secrets = {"admin": ADMIN_TOKEN}
        secrets.update(_drive(url, receiver, secrets))
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        yield {"log": log_path.read_text(), "stdout_after_banner": rest, "secrets": secrets}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        server.shutdown()
        log_path.unlink(missing_ok=True)


def _drive(url: str, receiver: str, secrets: dict[str, str]) -> dict[str, str]:
    """Every surface once, with every credential scheme; the secrets that went over the wire."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    status, account = _call(url + "/admin/v1/accounts", "POST",
                            {"handle": "obs-e2e", "referrers": ["app.example.com"]}, admin)
    assert status == 201, account
    creds = account["credentials"]
    found = {kind: creds[kind] for kind in ("token", "secret_key", "api_key", "access_key")}
    bearer = {"Authorization": f"Bearer {creds['token']}"}
    basic = base64.b64encode(f"{creds['client_handle']}:{creds['access_key']}".encode()).decode()
    found["basic"] = basic
    # tasks: Secret header, secret in the query, Api-Key with its Referer; a file's presigned URL
    hello = {"tasks": {"task_name": "hello", "name": "Ada"}, "block": True}
    assert _call(url + "/v1/create", "POST", hello, {"Authorization": f"Secret {creds['secret_key']}"})[0] == 200
    assert _call(url + f"/v1/create?secret={creds['secret_key']}", "POST", hello)[0] == 200
    assert _call(url + "/v1/create", "POST", hello, {"Authorization": f"Api-Key {creds['api_key']}",
                                                     "Referer": "https://app.example.com/x"})[0] == 200
    status, [thumbs] = _call(url + "/v1/create", "POST", {
        "tasks": {"task_name": "image.thumbs", "url": receiver + "/cat.png"}, "block": True},
        {"Authorization": f"Secret {creds['secret_key']}"})
    assert thumbs["status"] == "success", thumbs
    status, headers, _ = _raw(url + f"/v1/file/small?task={thumbs['key']}")
    assert status == 302, headers
    query = parse_qs(urlsplit(headers["Location"]).query)
    found["presigned_signature"] = (query.get("X-Amz-Signature") or query["Signature"])[0]
    # endpoints and files: Bearer
    script = "/obs/handler.py"
    assert _raw(url + f"/api/v1/fs/files?path={quote(script)}", "PUT", SCRIPT.encode(),
                {**bearer, "Content-Type": "text/x-python"})[0] == 200
    assert _call(url + "/api/v1/http-endpoint/obs", "PUT",
                 {"path": "obs", "handler_script_path": script}, bearer)[0] == 201
    assert _raw(url + "/api/v1/http-endpoint/u/obs?token=x", headers=bearer)[0] == 200
    # workflows: Basic, a webhook secret and a signed delivery
    basic_headers = {"Authorization": f"Basic {basic}"}
    status, workflow = _call(url + "/workflows/obs", "PUT", {
        "name": "Obs", "input_fields": ["a"], "webhook_url": receiver + "/hook"}, basic_headers)
    assert status == 201, workflow
    found["webhook_secret"] = workflow["webhook_secret"]
    found["webhook_secret_bytes"] = workflow["webhook_secret"].removeprefix("whsec_")
    task_id = "1cbe149a-59f2-425f-ac02-2d0ea3e3a7fe"
    assert _call(url + f"/workflows/obs/tasks/{task_id}", "PUT", {"input": {"a": 1}},
                 basic_headers)[0] == 201
    assert _call(url + f"/workflows/obs/tasks/{task_id}/complete", "POST",
                 {"output": {"b": 2}}, basic_headers)[0] == 200
    deadline = time.monotonic() + 30
    while not _Receiver.received:
        assert time.monotonic() < deadline, "the webhook never arrived"
        time.sleep(0.2)
    found["webhook_signature"] = _Receiver.received[0]["webhook-signature"].split(",", 1)[1]
    # packages: Bearer
    for route, body in (("package/create", {"handle": "obs"}),
                        ("package/version/create", {"packageHandle": "obs", "handle": "1.0.0",
                                                    "source": PACKAGE}),
                        ("package/instance/create", {"packageHandle": "obs", "handle": "o1"})):
        status, answer = _call(url + f"/api/v1/{route}", "POST", body, bearer)
        assert status == 200, answer
    assert _call(url + "/default/o1/hello", "POST", {"name": "Bo"}, bearer)[0] == 200
    # Taskport's own API
    status, runs = _call(url + "/taskport/v1/runs", headers=bearer)
    assert status == 200 and runs["runs"], runs
    return found


def _lines(log: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def test_no_secret_reaches_the_log_of_a_run_through_every_surface(logged_run):
    text = logged_run["log"] + logged_run["stdout_after_banner"]
    assert len(logged_run["secrets"]) >= 10
    for name, secret in logged_run["secrets"].items():
        assert secret and secret not in text, f"the {name} is in the log"


def test_every_surface_logs_its_requests_as_json_with_ids(logged_run):
    lines = _lines(logged_run["log"])
    requests = [line for line in lines if line.get("method") in ("GET", "POST", "PUT", "DELETE")
                and "status" in line]
    assert {line["surface"] for line in requests} >= {"admin", "dragon", "instabase", "onespace",
                                                      "steamship", "taskport"}
    for line in requests:
        assert {"level", "timestamp", "message", "service", "function", "request_id", "status",
                "duration_ms"} <= set(line), line
        assert "?" not in line["route"]
    # every surface that took credentials names the account (dragon's file look-up needs none)
    assert {line["surface"] for line in requests if line.get("account")} >= {
        "dragon", "instabase", "onespace", "steamship", "taskport"}


def test_runs_tasks_and_webhooks_each_log_a_line_with_their_ids(logged_run):
    lines = _lines(logged_run["log"])
    kinds = {line["kind"] for line in lines if line.get("run") and line.get("kind")}
    assert kinds >= {"task", "endpoint", "method", "build"}
    assert any(line.get("delivery") and line.get("outcome") == "delivered" for line in lines)
    assert any("started" in line["message"] and line.get("task") for line in lines)
    assert any(line["message"].startswith("sandbox call") for line in lines)
    assert not [line for line in lines if line["level"] == "ERROR"]
