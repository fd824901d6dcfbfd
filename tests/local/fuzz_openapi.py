"""Schemathesis against the local stack, with credentials for every security scheme (a CI step).

    python -m tests.local.fuzz_openapi [--max-time SECONDS] [--max-examples N] [st run options...]

Starts `python -m chalicelib.local.stack` on a free port with its own emulator, reads the dev
account's secrets from its 0600 file, and runs `st run` on /openapi.json with the checks
not_a_server_error and response_schema_conformance. Exits with schemathesis's status.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
CHECKS = "not_a_server_error,response_schema_conformance"


def _config(credentials: dict[str, str], admin_token: str) -> str:
    """schemathesis.toml: one credential per OpenAPI security scheme of the document."""
    schemes = {
        "Secret": {"api_key": f"Secret {credentials['secret_key']}"},
        "ApiKey": {"api_key": f"Api-Key {credentials['api_key']}"},
        "Referer": {"api_key": "http://localhost/"},
        "SecretParameter": {"api_key": credentials["secret_key"]},
        "Basic": {"username": credentials["client_handle"], "password": credentials["access_key"]},
        "Bearer": {"bearer": credentials["token"]},
        "AccessTokenParameter": {"api_key": credentials["token"]},
        "Admin": {"bearer": admin_token},
    }
    lines = []
    for name, values in schemes.items():
        lines.append(f"[auth.openapi.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    # An endpoint call answers what the account's handler script did: 500 when it raised (the
    # fuzzer stores scripts too, most of them broken), 502 when its answer is refused, 504 when it
    # timed out, as the Instabase API does. Only there are those statuses the user's, not a fault;
    # the bodies are still checked against the document.
    lines += ["", "[[operations]]", 'include-path = "/api/v1/http-endpoint/u/{path}"',
              'checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", 500, 502, 504]']
    return "\n".join(lines) + "\n"


def _wait_ready(url: str, dev_file: Path, process: subprocess.Popen[bytes], timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the local stack exited before it was ready")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                if dev_file.exists():
                    return json.loads(dev_file.read_text())
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the local stack did not start in time")


def main(argv: list[str] | None = None) -> int:
    """Run the stack, then schemathesis against it; the stack is stopped either way."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=150, help="schemathesis's time budget (seconds)")
    parser.add_argument("--max-examples", type=int, default=30, help="test cases per operation")
    args, extra = parser.parse_known_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    from chalicelib.local.stack import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    admin_token = "fuzz-" + secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="taskport-fuzz-") as tmp:
        dev_file = Path(tmp) / "dev.json"
        env = {**os.environ, "PORT": str(port), "TASKPORT_DEV_FILE": str(dev_file),
               "TASKPORT_ADMIN_TOKEN": admin_token, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "TASKPORT_EGRESS_ALLOW": "", "TASKPORT_BLOCK_WAIT_SECONDS": "2"}
        env.pop("AWS_ENDPOINT_URL", None)
        log = open(Path(tmp) / "stack.log", "wb")  # noqa: SIM115  (closed below)
        stack = subprocess.Popen([sys.executable, "-m", "chalicelib.local.stack"], cwd=PROJECT_DIR, env=env,
                                 stdout=log, stderr=subprocess.STDOUT)
        try:
            kept = _wait_ready(url, dev_file, stack)
            config = Path(tmp) / "schemathesis.toml"
            config.write_text(_config(kept["account"]["credentials"], admin_token))
            # One worker: hypothesis describing filters from two threads at once trips CPython 3.11's
            # "AST constructor recursion depth mismatch" inside schemathesis, a runtime error of the tool.
            st = Path(sys.executable).with_name("st")
            command = [str(st), "--config-file", str(config), "run", f"{url}/openapi.json", "--url", url,
                       "--checks", CHECKS, "--max-time", str(args.max_time),
                       "--max-examples", str(args.max_examples), "--workers", "1",
                       "--request-timeout", "30", "--max-redirects", "0", "--seed", "1",
                       "--report", "junit", "--report-dir", str(PROJECT_DIR / "build" / "schemathesis"),
                       *extra]
            print("+", " ".join(command), flush=True)
            # In the temporary directory: schemathesis keeps its cache (.schemathesis/) in the working directory.
            return subprocess.run(command, cwd=tmp, check=False).returncode
        finally:
            stack.terminate()
            try:
                stack.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stack.kill()
            log.close()
            if os.environ.get("TASKPORT_FUZZ_SHOW_LOG"):
                print((Path(tmp) / "stack.log").read_text(errors="replace")[-20000:])


if __name__ == "__main__":
    sys.exit(main())
