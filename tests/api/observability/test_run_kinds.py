"""Each kind of run is recorded with the code's stdout/stderr, its report and its error."""
from __future__ import annotations

import json

from tests.api.observability.conftest import get, script_endpoint, token
from tests.api.steamship.conftest import call, instance, make_package, package, run_worker  # noqa: F401

NOISY = '''import sys


def talk(word="hi"):
    print("said", word)
    print("careful", file=sys.stderr)
    return word


def crash():
    print("before the crash")
    raise KeyError("gone")


def talk_later(n):
    print("counting", n)
    return n


BACKGROUND_METHODS = ["talk_later"]
'''
FLOOD = '''def handler(request, *args, **kwargs):
    import sys
    sys.stdout.write("x" * (70 * 1024))
    return "done"
'''


def _runs(client, account, query):
    status, body = get(client, f"/taskport/v1/runs?{query}", account)
    assert status == 200, body
    return body["runs"]


def test_endpoint_run_keeps_the_handlers_stdout_stderr_and_report(client, account):
    from tests.api.observability.conftest import RAISES

    endpoint = script_endpoint(client, account, RAISES)
    client.http.get("/api/v1/http-endpoint/u/probe", headers=token(account))
    [run] = _runs(client, account, f"endpoint={endpoint}")
    assert "about to fail" in run["stdout"] and run["stderr"] == "to stderr\n"
    assert run["truncated"] == {"stdout": False, "stderr": False}
    assert run["cpu_ms"] > 0 and run["max_rss_bytes"] > 0


def test_endpoint_output_over_64_kib_is_cut_and_flagged(client, account):
    endpoint = script_endpoint(client, account, FLOOD)
    assert client.http.get("/api/v1/http-endpoint/u/probe", headers=token(account)).status_code == 200
    [run] = _runs(client, account, f"endpoint={endpoint}")
    assert run["status"] == "ok" and run["truncated"]["stdout"] is True
    assert 0 < len(run["stdout"]) <= 64 * 1024 and set(run["stdout"]) == {"x"}


def test_method_call_and_build_are_recorded(client, account):
    make_package(client, account, "noisy", source=NOISY)
    status, answer = call(client, account, "package/instance/create",
                          {"packageHandle": "noisy", "handle": "n1"})
    assert status == 200, answer
    response = client.http.post("/default/n1/talk", headers=token(account),
                                body=json.dumps({"word": "hey"}))
    assert response.status_code == 200, response.body
    [run] = _runs(client, account, "instance=default/n1")
    assert (run["kind"], run["status"], run["http_status"]) == ("method", "ok", None)
    assert run["subject"]["method"] == "talk" and run["subject"]["package"] == "noisy"
    assert run["stdout"] == "said hey\n" and run["stderr"] == "careful\n"
    [build] = _runs(client, account, "kind=build")
    assert build["status"] == "ok" and build["subject"] == {"package": "noisy", "version": "1.0.0"}


def test_failed_method_call_keeps_the_users_traceback(client, account):
    make_package(client, account, "noisy", source=NOISY)
    call(client, account, "package/instance/create", {"packageHandle": "noisy", "handle": "n1"})
    response = client.http.post("/default/n1/crash", headers=token(account), body=b"{}")
    assert response.status_code == 500
    [run] = _runs(client, account, "instance=default/n1&status=error")
    assert run["error"]["type"] == "KeyError" and run["http_status"] == 500
    assert "before the crash" in run["stdout"]
    assert "in crash" in run["error"]["traceback"] and "chalicelib" not in run["error"]["traceback"]


def test_background_method_attempt_is_a_method_run_of_its_task(client, account, world):
    make_package(client, account, "noisy", source=NOISY)
    call(client, account, "package/instance/create", {"packageHandle": "noisy", "handle": "n1"})
    response = client.http.post("/default/n1/talk_later", headers=token(account),
                                body=json.dumps({"n": 3}))
    assert response.status_code == 200, response.body
    assert run_worker(client, world) == 1
    [run] = _runs(client, account, "instance=default/n1")
    assert (run["kind"], run["status"], run["subject"]["attempt"]) == ("method", "ok", 1)
    assert run["stdout"] == "counting 3\n"
    assert _runs(client, account, f"task={run['subject']['task']}") == [run]


def _run_writes(sent):
    """How many writes of a run item the captured calls made (alone or inside a transaction)."""
    from chalicelib.config import get_settings

    table = get_settings().runs_table
    puts = [params for params in sent if params.get("TableName") == table and "Item" in params]
    carried = [item for params in sent for item in params.get("TransactItems", [])
               if item.get("Put", {}).get("TableName") == table]
    return len(puts) + len(carried)


def test_every_kind_of_run_is_one_write(client, account, world):
    from tests.unit.engine.calls import count_calls

    endpoint_sent, build_sent, method_sent, worker_sent = [], [], [], []
    script_endpoint(client, account, NOISY.replace("def talk(", "def handler(request, *a, **k):\n"
                                                   "    return 'ok'\n\n\ndef talk("))
    with count_calls(endpoint_sent):
        assert client.http.get("/api/v1/http-endpoint/u/probe",
                               headers=token(account)).status_code == 200
    with count_calls(build_sent):
        make_package(client, account, "noisy", source=NOISY)
    call(client, account, "package/instance/create", {"packageHandle": "noisy", "handle": "n1"})
    with count_calls(method_sent):
        client.http.post("/default/n1/talk", headers=token(account), body=b"{}")
    client.http.post("/default/n1/talk_later", headers=token(account), body=json.dumps({"n": 1}))
    with count_calls(worker_sent) as worker_calls:
        assert run_worker(client, world) == 1
    assert [_run_writes(sent) for sent in (endpoint_sent, build_sent, method_sent, worker_sent)] \
        == [1, 1, 1, 1]
    assert sorted(call for call in worker_calls if call.startswith("DynamoDB")) == [
        "DynamoDB.TransactWriteItems", "DynamoDB.UpdateItem"]
    kinds = sorted(run["kind"] for run in _runs(client, account, ""))
    assert kinds == ["build", "endpoint", "method", "method"]
