"""GET /v1/status and the ndjson streams: keys as capabilities, accounts kept apart, block."""
from __future__ import annotations

import json

from tests.api.dragon.conftest import drain, post, secret_headers

HELLO = {"task_name": "hello", "name": "John"}


def _create(client, account, tasks):
    response = post(client, "/v1/create", {"tasks": tasks}, secret_headers(account))
    assert response.status_code == 200
    return [s["key"] for s in json.loads(response.body)]


def test_status_of_keys_needs_no_credentials(client, account, world):
    keys = _create(client, account, [HELLO, {"task_name": "hello", "name": "Jane"}])
    drain(world["tasks_queue"])
    response = client.http.get(f"/v1/status?tasks={keys[1]}&tasks={keys[0]}")
    assert response.status_code == 200
    statuses = json.loads(response.body)
    assert [s["key"] for s in statuses] == [keys[1], keys[0]]
    assert [s["result"] for s in statuses] == ["Hello Jane", "Hello John"]
    assert statuses[0]["status"] == "success"


def test_status_never_reveals_another_accounts_task_to_credentials(client, account, other_account):
    keys = _create(client, account, [HELLO])
    theirs = client.http.get(f"/v1/status?tasks={keys[0]}", headers=secret_headers(other_account))
    mine = client.http.get(f"/v1/status?tasks={keys[0]}", headers=secret_headers(account))
    assert theirs.status_code == 404
    assert json.loads(theirs.body) == {"status": "error", "message": f"no task {keys[0]!r}"}
    assert mine.status_code == 200


def test_status_with_bad_credentials_is_401(client, account):
    keys = _create(client, account, [HELLO])
    response = client.http.get(f"/v1/status?tasks={keys[0]}", headers={"Authorization": "Secret x"})
    assert response.status_code == 401


def test_status_of_unknown_or_chosen_keys_is_404_without_credentials(client, account):
    from chalicelib.engine import tasks as engine

    chosen = engine.create_tasks(account["id"], "default", [
        engine.TaskSpec("hello", {"name": "x"}, key="wf:acme:flow:1")])[0]
    for key in ("A" * 26, "short", chosen.key):
        response = client.http.get(f"/v1/status?tasks={key}")
        assert response.status_code == 404, key
    owner = client.http.get(f"/v1/status?tasks={chosen.key}", headers=secret_headers(account))
    assert owner.status_code == 200


def test_status_without_tasks_is_400(client):
    response = client.http.get("/v1/status")
    assert response.status_code == 400
    assert json.loads(response.body)["errors"][0] == {
        "name": "tasks", "location": "querystring", "description": "tasks is missing"}


def test_status_with_block_waits_for_results(client, account, running_worker):
    keys = _create(client, account, [HELLO])
    response = client.http.get(f"/v1/status?tasks={keys[0]}&block=true")
    assert json.loads(response.body)[0]["status"] == "success"


def test_status_shows_canceled_as_error(client, account):
    from chalicelib.engine import tasks as engine

    keys = _create(client, account, [HELLO])
    engine.cancel_task(keys[0], account["id"])
    status = json.loads(client.http.get(f"/v1/status?tasks={keys[0]}").body)[0]
    assert status["status"] == "error"
    assert status["result"] == "canceled"
    assert "completed" in status["events"]


def _lines(response):
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.body.decode().splitlines()]


CHAIN = ["queued", "executing", "success"]


def _changes_per_key(lines, keys):
    """The statuses each key's lines carry after the first line."""
    assert all(isinstance(line, dict) for line in lines[1:])
    return {key: [line["status"] for line in lines[1:] if line["key"] == key] for key in keys}


def test_create_stream_first_line_lists_statuses_then_one_line_per_change(client, account,
                                                                           running_worker):
    response = post(client, "/v1/create_stream",
                    {"tasks": [HELLO, {"task_name": "hello", "name": "Jane"}]}, secret_headers(account))
    lines = _lines(response)
    first = lines[0]
    assert isinstance(first, list) and len(first) == 2
    assert [s["status"] for s in first] == ["queued", "queued"]
    keys = [s["key"] for s in first]
    # However the polls fall, every change is there once: none skipped, none repeated.
    assert _changes_per_key(lines, keys) == {key: ["executing", "success"] for key in keys}
    finals = {line["key"]: line for line in lines[1:] if line["status"] == "success"}
    assert finals[keys[0]]["result"] == "Hello John"
    assert finals[keys[1]]["result"] == "Hello Jane"
    executing = next(line for line in lines[1:] if line["status"] == "executing")
    assert set(executing["events"]) == {"queued", "started"} and "result" not in executing


def test_status_stream_carries_every_change_from_the_first_status_on(client, account,
                                                                     running_worker):
    keys = _create(client, account, [HELLO, HELLO, HELLO])
    lines = _lines(client.http.get("/v1/status_stream?" + "&".join(f"tasks={k}" for k in keys)))
    assert [s["key"] for s in lines[0]] == keys
    changes = _changes_per_key(lines, keys)
    for status in lines[0]:
        assert changes[status["key"]] == CHAIN[CHAIN.index(status["status"]) + 1:]


def test_status_stream_of_finished_tasks_is_one_line(client, account, world):
    keys = _create(client, account, [HELLO])
    drain(world["tasks_queue"])
    lines = _lines(client.http.get(f"/v1/status_stream?tasks={keys[0]}"))
    assert len(lines) == 1
    assert lines[0][0]["status"] == "success"


def test_status_stream_stops_at_the_deadline(client, account, monkeypatch):
    from chalicelib import config

    keys = _create(client, account, [HELLO])
    monkeypatch.setenv("TASKPORT_BLOCK_WAIT_SECONDS", "0.2")
    config.get_settings.cache_clear()
    lines = _lines(client.http.get(f"/v1/status_stream?tasks={keys[0]}"))
    assert lines == [[json.loads(client.http.get(f"/v1/status?tasks={keys[0]}").body)[0]]]


def test_create_stream_without_tasks_is_400(client, account):
    response = post(client, "/v1/create_stream", {}, secret_headers(account))
    assert response.status_code == 400


def test_status_never_reveals_another_accounts_task_on_any_lookup_route(client, account,
                                                                        other_account):
    key = _create(client, account, [HELLO])[0]
    missing = "C" * 26
    theirs = other_account["credentials"]["secret_key"]
    for route in ("/v1/status?tasks={}", "/v1/status_stream?tasks={}", "/v1/file?task={}",
                  "/v1/status?block=true&tasks={}"):
        for credentials in ({"headers": {"Authorization": f"Secret {theirs}"}, "query": ""},
                            {"headers": {}, "query": f"&secret={theirs}"}):
            answers = [client.http.get(route.format(k) + credentials["query"],
                                       headers=credentials["headers"]) for k in (key, missing)]
            assert [a.status_code for a in answers] == [404, 404], route
            bodies = [json.loads(a.body)["message"].replace(k, "K")
                      for a, k in zip(answers, (key, missing), strict=True)]
            assert bodies[0] == bodies[1], route


def test_status_reads_one_item_or_one_batch(client, account):
    from tests.unit.engine.calls import count_calls

    keys = _create(client, account, [HELLO] * 10)
    with count_calls() as one:
        assert client.http.get(f"/v1/status?tasks={keys[0]}").status_code == 200
    with count_calls() as ten:
        response = client.http.get("/v1/status?" + "&".join(f"tasks={k}" for k in keys))
    assert [s["key"] for s in json.loads(response.body)] == keys
    assert one == ["DynamoDB.GetItem"]
    assert ten == ["DynamoDB.BatchGetItem"]
