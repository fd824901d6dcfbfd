"""`make dev`'s credentials: a generated admin token, stable dev secrets in a 0600 file, export lines,
a busy port refused in one line, and `chalice local` running the same stack."""
from __future__ import annotations

import http.client
import json
import os
import queue
import re
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from chalicelib.local.chalice_cli import chalice_command, local_port
from tests.local.test_stack import PROJECT_DIR, _call, _free_port

START_TIMEOUT = 60.0


def _environment(dev_file: Path, port: int) -> dict[str, str]:
    env = {**os.environ, "PORT": str(port), "TASKPORT_DEV_FILE": str(dev_file),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "PYTHONUNBUFFERED": "1"}
    for name in ("AWS_ENDPOINT_URL", "TASKPORT_ADMIN_TOKEN", "AWS_CHALICE_CLI_MODE"):
        env.pop(name, None)
    return env


def _run_until_ready(command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Start `command`, read its output until the banner's last line, and return both."""
    process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout or ():
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    output: list[str] = []
    while not any(line.startswith("Press Ctrl-C") for line in output):
        try:
            output.append(lines.get(timeout=START_TIMEOUT))
        except queue.Empty:
            process.kill()
            pytest.fail("the stack did not start:\n" + "".join(output))
    return process, "".join(output)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _exports(printed: str) -> dict[str, str]:
    return dict(re.findall(r"(TASKPORT_[A-Z_]+)=(\S+)", printed))


def test_dev_stack_generates_admin_token_and_keeps_secrets_across_restarts(tmp_path: Path) -> None:
    dev_file = tmp_path / "dev.json"
    port = _free_port()
    process, first = _run_until_ready([sys.executable, "-m", "chalicelib.local.stack"],
                                      _environment(dev_file, port))
    try:
        admin = re.search(r"admin token:\s+(\S+)", first)
        assert admin and admin.group(1) != "taskport-dev-admin" and len(admin.group(1)) > 30
        exports = _exports(first)
        assert exports["TASKPORT_URL"] == f"http://127.0.0.1:{port}"
        status, _ = _call(f"{exports['TASKPORT_URL']}/api/v1/fs/list",
                          headers={"Authorization": f"Bearer {exports['TASKPORT_TOKEN']}"})
        assert status == 200
        assert "taskport tasks create" in first
    finally:
        _stop(process)
    assert stat.S_IMODE(dev_file.stat().st_mode) == 0o600
    assert exports["TASKPORT_TOKEN"] in dev_file.read_text()

    process, second = _run_until_ready([sys.executable, "-m", "chalicelib.local.stack"],
                                       _environment(dev_file, port))
    try:
        assert _exports(second) == exports
        assert re.search(r"admin token:\s+(\S+)", second).group(1) == admin.group(1)  # type: ignore[union-attr]
        status, body = _call(f"http://127.0.0.1:{port}/admin/v1/accounts/dev",
                             headers={"Authorization": f"Bearer {admin.group(1)}"})
        assert status == 200, body
        status, _ = _call(f"http://127.0.0.1:{port}/workflows", headers={
            "Authorization": "Basic " + __import__("base64").b64encode(
                f"dev:{exports['TASKPORT_ACCESS_KEY']}".encode()).decode()})
        assert status == 200
    finally:
        _stop(process)


def test_dev_stack_keeps_user_admin_token_out_of_its_file(tmp_path: Path) -> None:
    dev_file = tmp_path / "dev.json"
    env = {**_environment(dev_file, _free_port()), "TASKPORT_ADMIN_TOKEN": "mine-and-only-mine"}
    process, printed = _run_until_ready([sys.executable, "-m", "chalicelib.local.stack"], env)
    _stop(process)
    assert "admin token:    mine-and-only-mine (from TASKPORT_ADMIN_TOKEN)" in printed
    assert "mine-and-only-mine" not in dev_file.read_text()


def test_dev_stack_refuses_busy_port_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "chalicelib.local.stack"], cwd=PROJECT_DIR,
                              env=_environment(tmp_path / "dev.json", port), capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and f"port {port}" in done.stderr and "PORT=" in done.stderr
    assert "Traceback" not in done.stderr


def test_chalice_local_serves_the_dev_stack_with_pollers(tmp_path: Path) -> None:
    port = _free_port()
    chalice = Path(sys.executable).with_name("chalice")
    process, printed = _run_until_ready([str(chalice), "local", "--port", str(port)],
                                        _environment(tmp_path / "dev.json", port))
    try:
        assert "AWS endpoint:   http://127.0.0.1:" in printed  # the embedded emulator, not AWS
        secret = _exports(printed)["TASKPORT_SECRET_KEY"]
        status, statuses = _call(f"http://127.0.0.1:{port}/v1/create", "POST",
                                 {"tasks": {"task_name": "hello", "name": "Ada"}, "block": True},
                                 {"Authorization": f"Secret {secret}"})
        assert status == 200 and statuses[0]["result"] == "Hello Ada", statuses
        # Methods Chalice's handler does not know get the surface's 405, not the standard library's 501.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("TRACE", "/v1/create")
        traced = connection.getresponse()
        assert (traced.status, json.loads(traced.read())["status"]) == (405, "error")
    finally:
        _stop(process)


@pytest.mark.parametrize(("argv", "command"), [
    (["chalice", "local"], "local"),
    (["chalice", "--project-dir", "local", "deploy"], "deploy"),
    (["chalice", "--debug", "local", "--port", "9000"], "local"),
    (["chalice", "package", "--stage", "local", "out"], "package"),
    (["chalice"], None),
])
def test_chalice_command_is_found_past_group_options(argv: list[str], command: str | None) -> None:
    assert chalice_command(argv) == command


def test_local_port_defaults_to_chalice_default() -> None:
    assert local_port(["chalice", "local"]) == "8000"
    assert local_port(["chalice", "local", "--port=9001"]) == "9001"
    assert local_port(["chalice", "local", "--port", "9002"]) == "9002"


