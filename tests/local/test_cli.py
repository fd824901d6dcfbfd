"""The `taskport` CLI against the local stack: login, tasks, endpoints, workflows, packages, invoke, errors."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from taskport import cli
from tests.local.sdk_stack import client_for, sdk_stack  # noqa: F401  (the stack fixture)
from tests.local.test_stack import PROJECT_DIR

HANDLER = "def handler(request, *args, **kwargs):\n    return 'Hello ' + request.args.get('name', 'you')\n"
PACKAGE = "def greet(name='World'):\n    return {'greeting': 'Hello ' + name}\n"


@pytest.fixture
def run(sdk_stack: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811
    """Run `taskport ARGS` in-process with the stack's exported credentials and a private login file."""
    for name in [n for n in os.environ if n.startswith("TASKPORT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TASKPORT_CONFIG", str(tmp_path / "credentials.json"))

    def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
        runner = CliRunner()
        return runner.invoke(cli.main, list(args), env=sdk_stack["env"] if env is None else env,
                             catch_exceptions=False)

    return invoke


def test_login_saves_checked_credentials_readable_by_owner_only(run: Any, sdk_stack: dict[str, Any],  # noqa: F811
                                                                tmp_path: Path) -> None:
    creds = sdk_stack["credentials"]
    done = run("--url", sdk_stack["url"], "login", "--token", creds["token"], "--secret-key", creds["secret_key"],
               "--access-key", creds["access_key"], "--client-handle", creds["client_handle"], env={})
    assert done.exit_code == 0, done.output
    config = tmp_path / "credentials.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text())["token"] == creds["token"]
    # Later commands need nothing in the environment.
    listed = run("workflows", "ls", "--json", env={})
    assert listed.exit_code == 0, listed.output
    assert isinstance(json.loads(listed.output), list)


def test_login_refuses_a_wrong_token_with_one_line_and_exit_3(run: Any, sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    done = run("--url", sdk_stack["url"], "login", "--token", "tpt_wrong", env={})
    assert done.exit_code == cli.EXIT_AUTH
    assert "Traceback" not in done.output and done.output.strip().count("\n") == 0
    assert "401" in done.output


def test_tasks_create_wait_prints_the_result(run: Any) -> None:
    done = run("tasks", "create", "hello", "name=Ada", "--wait")
    assert done.exit_code == 0, done.output
    assert "Hello Ada" in done.output


def test_tasks_create_json_streams_statuses_until_success(run: Any) -> None:
    done = run("tasks", "create", "hello", "name=Ada", "--wait", "--json")
    assert done.exit_code == 0, done.output
    statuses = [json.loads(line) for line in done.output.splitlines() if line.strip()]
    assert statuses[-1]["status"] == "success" and statuses[-1]["result"] == "Hello Ada"


def test_tasks_create_unknown_type_fails_in_one_line(run: Any) -> None:
    done = run("tasks", "create", "helo", "name=Ada")
    assert done.exit_code not in (0, 1)
    assert "Traceback" not in done.output and len(done.output.strip().splitlines()) == 1
    assert "helo" in done.output


def test_tasks_watch_follows_keys_to_the_end(run: Any, sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    created = client_for(sdk_stack).tasks.create_many([{"task_name": "hello", "name": n} for n in ("A", "B")])
    done = run("tasks", "watch", *(c.key for c in created), "--json")
    assert done.exit_code == 0, done.output
    last = {}
    for line in done.output.splitlines():
        status = json.loads(line)
        last[status["key"]] = status
    assert sorted(s["result"] for s in last.values()) == ["Hello A", "Hello B"]


def test_endpoints_deploy_then_call_runs_the_handler(run: Any, tmp_path: Path) -> None:
    script = tmp_path / "hello.py"
    script.write_text(HANDLER)
    deployed = run("endpoints", "deploy", str(script), "--path", "cli-hello", "--json")
    assert deployed.exit_code == 0, deployed.output
    assert json.loads(deployed.output)["state"] == "ENABLED"
    again = run("endpoints", "deploy", str(script), "--path", "cli-hello")  # an update, not a conflict
    assert again.exit_code == 0, again.output
    called = run("endpoints", "call", "cli-hello", "name=Ada")
    assert called.exit_code == 0, called.output
    assert called.output.strip() == "Hello Ada"


def test_endpoints_call_missing_path_exits_4(run: Any) -> None:
    done = run("endpoints", "call", "no-such-endpoint")
    assert done.exit_code == cli.EXIT_NOT_FOUND, done.output


def test_workflows_ls_and_deliveries_follow_to_the_last_attempt(run: Any, sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    client = client_for(sdk_stack)
    # Nothing listens on the discard port: every attempt fails, and the 1 s, 1 s ladder ends quickly.
    client.workflows.put("cli-review", name="Review", input_fields=["url"], webhook_url="http://127.0.0.1:9/hook")
    task_id = str(uuid.uuid4())
    client.workflows.create_task("cli-review", task_id, {"url": "https://example.com"})
    listed = run("workflows", "ls")
    assert listed.exit_code == 0 and "cli-review" in listed.output, listed.output
    client.workflows.complete("cli-review", task_id, {"approved": True})
    followed = run("workflows", "deliveries", "cli-review", task_id, "--follow", "--json", "--timeout", "60")
    assert followed.exit_code == 0, followed.output
    [delivery] = json.loads(followed.output.strip().splitlines()[-1])
    assert delivery["event"] == "completed" and len(delivery["attempts"]) == 3, delivery
    assert not delivery["next_attempt_at"]


def test_packages_deploy_dir_then_invoke_a_method(run: Any, tmp_path: Path) -> None:
    package = tmp_path / "greeter"
    package.mkdir()
    (package / "api.py").write_text(PACKAGE)
    deployed = run("packages", "deploy", str(package), "--version", "1.0", "--instance", "greeter-cli")
    assert deployed.exit_code == 0, deployed.output
    assert "greet" in deployed.output
    called = run("invoke", "default/greeter-cli", "greet", "name=Ada", "--json")
    assert called.exit_code == 0, called.output
    assert json.loads(called.output) == {"greeting": "Hello Ada"}


def test_invoke_rejects_a_target_without_instance(run: Any) -> None:
    done = run("invoke", "default", "greet")
    assert done.exit_code == cli.EXIT_USAGE


def test_tasks_ls_lists_the_account_tasks_by_status(run: Any) -> None:
    created = run("tasks", "create", "hello", "name=Listed", "--wait", "--json")
    key = json.loads(created.output.splitlines()[-1])["key"]
    listed = run("tasks", "ls", "--status", "success", "--json")
    assert listed.exit_code == 0, listed.output
    assert key in {t["key"] for t in json.loads(listed.output)["tasks"]}
    table = run("tasks", "ls")
    assert table.exit_code == 0 and key[:12] in table.output.replace("\n", ""), table.output


def test_task_types_lists_builtins_with_their_parameters(run: Any) -> None:
    done = run("task-types", "--json")
    assert done.exit_code == 0, done.output
    names = {t["name"] for t in json.loads(done.output)["task_types"]}
    assert {"hello", "image.thumb"} <= names
    shown = run("task-types")
    assert shown.exit_code == 0 and "image.thumb" in shown.output


def test_endpoints_logs_shows_the_handler_runs(run: Any, tmp_path: Path) -> None:
    script = tmp_path / "loud.py"
    script.write_text("def handler(request, *args, **kwargs):\n    print('said hello')\n    return 'ok'\n")
    assert run("endpoints", "deploy", str(script), "--path", "cli-loud").exit_code == 0
    assert run("endpoints", "call", "cli-loud").exit_code == 0
    logs = run("endpoints", "logs", "cli-loud", "--json")
    assert logs.exit_code == 0, logs.output
    records = [json.loads(line) for line in logs.output.splitlines() if line.strip()]
    assert [r["subject"]["endpoint"] for r in records] == ["cli-loud"], records
    assert records[0]["status"] and records[0]["duration_ms"] is not None


def test_console_script_prints_help_with_exit_codes() -> None:
    done = subprocess.run([sys.executable, "-m", "taskport.cli", "--help"], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    assert "Exit codes" in done.stdout and "tasks" in done.stdout


def test_login_without_arguments_reads_make_dev_file_beside_it(run: Any, sdk_stack: dict[str, Any],  # noqa: F811
                                                               tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".taskport-dev.json").write_text(sdk_stack["dev_file"].read_text())
    monkeypatch.chdir(checkout)
    done = run("login", env={})
    assert done.exit_code == 0, done.output
    assert "token, secret key, access key checked" in done.output
    assert run("tasks", "create", "hello", "name=Dev", "--wait", env={}).output.strip().endswith("Hello Dev")
