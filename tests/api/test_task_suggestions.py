"""Unknown task types list the close matches; a misspelled parameter beside valid ones is refused by name."""
from __future__ import annotations

import json
from typing import Any


def _create(client: Any, account: dict[str, Any], task: dict[str, Any]) -> tuple[int, Any]:
    answer = client.http.post("/v1/create", body=json.dumps({"tasks": [task]}), headers={
        "Authorization": f"Secret {account['credentials']['secret_key']}", "Content-Type": "application/json"})
    return answer.status_code, json.loads(answer.body)


def test_unknown_task_type_lists_close_matches(client: Any, account: dict[str, Any]) -> None:
    status, body = _create(client, account, {"task_name": "image.thum", "url": "https://example.com/a.png"})
    assert status == 400
    [error] = body["errors"]
    assert error["name"] == "tasks.0.task_name"
    assert "did you mean 'image.thumb'" in error["description"]


def test_unknown_task_type_far_from_any_has_no_suggestion(client: Any, account: dict[str, Any]) -> None:
    status, body = _create(client, account, {"task_name": "zzzzzz"})
    assert status == 400 and "did you mean" not in body["errors"][0]["description"]


def test_misspelled_parameter_is_refused_naming_it_and_the_valid_one(client: Any, account: dict[str, Any]) -> None:
    status, body = _create(client, account, {"task_name": "image.thumb", "url": "https://example.com/a.png",
                                             "sise": 64})
    assert status == 400
    [error] = body["errors"]
    assert error["name"] == "tasks.0.sise"
    assert "'sise'" in error["description"] and "did you mean 'size'" in error["description"]


def test_parameter_unlike_any_valid_one_still_passes(client: Any, account: dict[str, Any]) -> None:
    status, body = _create(client, account, {"task_name": "hello", "name": "Ada", "cachebuster": "3"})
    assert status == 200, body


def test_task_types_list_builtins_with_their_parameters(client: Any, account: dict[str, Any]) -> None:
    answer = client.http.get("/taskport/v1/task-types",
                             headers={"Authorization": f"Bearer {account['credentials']['token']}"})
    types = {t["name"]: t for t in json.loads(answer.body)["task_types"]}
    assert set(types["image.thumb"]["params_schema"]["properties"]) == {"url", "size"}
    assert types["hello"]["params_schema"]["required"] == ["name"]
