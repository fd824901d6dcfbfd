"""POST /v1/create: statuses, auth schemes, block, and every kind of bad input."""
from __future__ import annotations

import datetime as dt
import json
import re

from tests.api.dragon.conftest import drain, post, secret_headers

KEY = re.compile(r"^[A-Z2-7]{26}$")
HELLO = {"task_name": "hello", "name": "John"}


def test_create_list_returns_queued_statuses_in_order(client, account, world):
    response = post(client, "/v1/create", {"tasks": [HELLO, {"task_name": "hello", "name": "Jane"}]},
                    secret_headers(account))
    assert response.status_code == 200
    statuses = json.loads(response.body)
    assert [s["status"] for s in statuses] == ["queued", "queued"]
    assert all(KEY.match(s["key"]) for s in statuses)
    assert statuses[0]["key"] != statuses[1]["key"]
    assert set(statuses[0]["events"]) == {"queued"}
    assert "result" not in statuses[0]
    assert drain(world["tasks_queue"]) == 2
    done = json.loads(client.http.get(f"/v1/status?tasks={statuses[0]['key']}").body)[0]
    for name in ("queued", "started", "completed"):  # ISO 8601, UTC
        moment = dt.datetime.fromisoformat(done["events"][name])
        assert moment.utcoffset() == dt.timedelta(0)
        assert done["events"][name] == moment.isoformat()
    assert done["events"]["queued"] <= done["events"]["started"] <= done["events"]["completed"]


def test_create_single_definition_is_accepted(client, account):
    response = post(client, "/v1/create", {"tasks": HELLO}, secret_headers(account))
    assert response.status_code == 200
    assert len(json.loads(response.body)) == 1


def test_create_accepts_secret_in_body_and_query(client, account):
    secret = account["credentials"]["secret_key"]
    in_body = post(client, "/v1/create", {"secret": secret, "tasks": HELLO})
    in_query = post(client, f"/v1/create?secret={secret}", {"tasks": HELLO})
    assert in_body.status_code == 200
    assert in_query.status_code == 200


def test_create_accepts_api_key_from_whitelisted_referer(client, account):
    api_key = account["credentials"]["api_key"]
    header = post(client, "/v1/create", {"tasks": HELLO},
                  {"Authorization": f"Api-Key {api_key}", "Referer": "https://app.example.com/page"})
    body = post(client, "/v1/create", {"api_key": api_key, "tasks": HELLO},
                {"Referer": "https://app.example.com/"})
    assert header.status_code == 200
    assert body.status_code == 200


def test_create_refuses_api_key_from_other_referer(client, account):
    api_key = account["credentials"]["api_key"]
    for headers in ({"Referer": "https://evil.example.org/"}, {}):
        response = post(client, "/v1/create", {"api_key": api_key, "tasks": HELLO}, headers)
        assert response.status_code == 401
        assert json.loads(response.body)["status"] == "error"


def test_create_without_or_with_wrong_credentials_is_401(client, account):
    cases = [({}, {"tasks": HELLO}), ({"Authorization": "Secret nope"}, {"tasks": HELLO}),
             ({}, {"secret": "nope", "tasks": HELLO}),
             ({}, {"secret": account["credentials"]["api_key"], "tasks": HELLO})]
    for headers, body in cases:
        response = post(client, "/v1/create", body, headers)
        assert response.status_code == 401, (headers, body)
        assert json.loads(response.body)["message"]


def test_create_without_tasks_is_400_in_seed_format(client, account):
    response = post(client, "/v1/create", {}, secret_headers(account))
    assert response.status_code == 400
    body = json.loads(response.body)
    assert body["status"] == "error"
    assert body["errors"][0] == {"name": "tasks", "location": "body", "description": "tasks is missing"}


def test_create_with_empty_body_reports_missing_tasks(client, account):
    response = client.http.post("/v1/create", body=b"", headers=secret_headers(account))
    assert response.status_code == 400
    assert json.loads(response.body)["errors"][0]["name"] == "tasks"


def _error(response):
    assert response.status_code == 400, response.body
    body = json.loads(response.body)
    assert body["status"] == "error"
    return body["errors"][0]


def test_create_with_unknown_task_name_is_400(client, account):
    error = _error(post(client, "/v1/create", {"tasks": [HELLO, {"task_name": "nope"}]},
                        secret_headers(account)))
    assert error["name"] == "tasks.1.task_name"
    assert "nope" in error["description"]


def test_create_with_missing_task_name_is_400(client, account):
    error = _error(post(client, "/v1/create", {"tasks": [{"name": "x"}]}, secret_headers(account)))
    assert error["name"] == "tasks.0.task_name"


def test_create_with_missing_or_wrong_typed_params_is_400(client, account):
    cases = [({"task_name": "hello"}, "tasks.0.name"),
             ({"task_name": "hello", "name": 7}, "tasks.0.name"),
             ({"task_name": "image.info"}, "tasks.0.url"),
             ({"task_name": "image.info", "url": ["x"]}, "tasks.0.url"),
             ({"task_name": "image.thumb", "url": "http://x/y.png", "size": "big"}, "tasks.0.size"),
             ({"task_name": "image.thumb", "url": "http://x/y.png", "size": 0}, "tasks.0.size"),
             ("hello", "tasks.0")]
    for definition, name in cases:
        error = _error(post(client, "/v1/create", {"tasks": [definition]}, secret_headers(account)))
        assert error["name"] == name, definition
        assert error["location"] == "body"


def test_create_with_too_many_tasks_says_the_limit(client, account):
    tasks = [HELLO] * 101
    error = _error(post(client, "/v1/create", {"tasks": tasks}, secret_headers(account)))
    assert error["name"] == "tasks"
    assert "100" in error["description"]


def test_create_with_malformed_json_or_non_utf8_is_400(client, account):
    for raw in (b"{not json", b'{"tasks": [\xff]}', b"[1, 2]"):
        response = client.http.post("/v1/create", body=raw, headers=secret_headers(account))
        assert response.status_code == 400, raw
        assert json.loads(response.body)["errors"][0]["description"]


def test_create_with_bad_block_flag_is_400_and_creates_nothing(client, account, world):
    in_body = _error(post(client, "/v1/create", {"tasks": HELLO, "block": "maybe"},
                          secret_headers(account)))
    in_query = _error(post(client, "/v1/create?block=maybe", {"tasks": HELLO}, secret_headers(account)))
    assert (in_body["name"], in_body["location"]) == ("block", "body")
    assert (in_query["name"], in_query["location"]) == ("block", "querystring")
    assert drain(world["tasks_queue"]) == 0


def test_create_with_block_waits_for_results(client, account, running_worker):
    response = post(client, "/v1/create", {"tasks": [HELLO, {"task_name": "hello", "name": "Jane"}],
                                           "block": True}, secret_headers(account))
    assert response.status_code == 200
    statuses = json.loads(response.body)
    assert [s["status"] for s in statuses] == ["success", "success"]
    assert [s["result"] for s in statuses] == ["Hello John", "Hello Jane"]
    assert set(statuses[0]["events"]) == {"queued", "started", "completed"}


def test_create_with_block_answers_current_status_at_the_deadline(client, account, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_BLOCK_WAIT_SECONDS", "0.2")
    config.get_settings.cache_clear()
    response = post(client, "/v1/create", {"tasks": HELLO, "block": "true"}, secret_headers(account))
    assert response.status_code == 200
    assert json.loads(response.body)[0]["status"] == "queued"


def test_create_task_input_over_limit_is_400(client, account, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_MAX_TASK_INPUT_BYTES", "100")
    config.get_settings.cache_clear()
    error = _error(post(client, "/v1/create", {"tasks": {"task_name": "hello", "name": "x" * 200}},
                        secret_headers(account)))
    assert error["name"] == "tasks"
    assert "100" in error["description"]


def test_create_costs_one_write_and_one_send_per_batch(client, account):
    from chalicelib import aws
    from chalicelib.config import get_settings
    from tests.unit.engine.calls import count_calls

    aws.queue_url(get_settings().tasks_queue)  # deployments configure the URL
    post(client, "/v1/create", {"tasks": HELLO}, secret_headers(account))  # warm credential cache
    with count_calls() as one:
        post(client, "/v1/create", {"tasks": HELLO}, secret_headers(account))
    with count_calls() as hundred:
        response = post(client, "/v1/create", {"tasks": [HELLO] * 100}, secret_headers(account))
    assert len(json.loads(response.body)) == 100
    assert one == ["DynamoDB.PutItem", "SQS.SendMessageBatch"]
    assert sorted(set(hundred)) == ["DynamoDB.BatchWriteItem", "SQS.SendMessageBatch"]
    assert (hundred.count("DynamoDB.BatchWriteItem"), hundred.count("SQS.SendMessageBatch")) == (4, 10)


def test_create_with_group_param_does_not_file_the_task_in_a_workflow(client, account):
    from tests.api.onespace.conftest import basic_headers, put_workflow

    basic = basic_headers(account)
    assert put_workflow(client, basic).status_code == 201
    planted = post(client, "/v1/create", {"tasks": {"task_name": "hello", "name": "x",
                                                    "group": "wf:titles"}},
                   secret_headers(account))
    assert planted.status_code == 200, planted.body
    listed = client.http.get("/workflows/titles/tasks", headers=basic)
    assert listed.status_code == 200, listed.body
    assert json.loads(listed.body)["tasks"] == []
