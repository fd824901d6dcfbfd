"""The taskport SDK against the local stack: typed answers, typed errors per surface, paged iterators."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

import taskport
from tests.local.sdk_stack import client_for, sdk_stack  # noqa: F401  (the stack fixture)


def test_tasks_run_stream_and_wait_answer_typed_statuses(sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    client = client_for(sdk_stack)
    assert client.tasks.run("hello", name="Ada") == "Hello Ada"
    streamed = list(client.tasks.stream([{"task_name": "hello", "name": "Bo"}]))
    assert streamed[0].status in ("queued", "executing", "success")
    assert streamed[-1].finished and streamed[-1].result == "Hello Bo"
    [done] = client.tasks.wait(streamed[0].key)
    assert done.result == "Hello Bo"


def test_task_error_carries_the_field_and_message(sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    client = client_for(sdk_stack)
    with pytest.raises(taskport.BadRequest) as caught:
        client.tasks.create("image.thumb", size=10)
    assert caught.value.status == 400 and caught.value.surface == "tasks"
    assert caught.value.field and "url" in caught.value.field


def test_workflow_error_carries_the_surface_code(sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    with pytest.raises(taskport.NotFound) as caught:
        client_for(sdk_stack).workflows.get("no-such-workflow")
    assert caught.value.code == "66868"


def test_wrong_token_raises_unauthorized_in_every_bearer_surface(sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    client = taskport.Client(sdk_stack["url"], token="tpt_wrong")
    with pytest.raises(taskport.Unauthorized):
        list(client.files.list())
    with pytest.raises(taskport.Unauthorized) as caught:
        list(client.packages.list())
    assert caught.value.code == "401"


def test_missing_credentials_are_refused_before_any_request() -> None:
    with pytest.raises(taskport.Unauthorized):
        taskport.Client("http://127.0.0.1:9").workflows.list()


def test_unreachable_server_raises_connection_failed() -> None:
    with pytest.raises(taskport.ConnectionFailed):
        taskport.Client("http://127.0.0.1:9", token="t", timeout=2).workspaces.get("default")


def test_paged_iterators_walk_every_page(sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    client = client_for(sdk_stack)
    prefix = f"/paged-{uuid.uuid4().hex[:6]}/"
    for index in range(3):
        client.files.put(f"{prefix}{index}.txt", f"file {index}", "text/plain")
    assert [f.path for f in client.files.list(prefix, page_size=1)] == [f"{prefix}{i}.txt" for i in range(3)]
    handles = {f"paged-{uuid.uuid4().hex[:6]}" for _ in range(3)}
    for handle in handles:
        client.workspaces.create(handle)
    assert handles <= {w.handle for w in client.workspaces.list(page_size=1)}


def test_endpoint_deploy_call_and_files(sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    client = client_for(sdk_stack)
    source = "def handler(request, *args, **kwargs):\n    return 'Hi ' + request.args.get('name', 'you')\n"
    endpoint = client.endpoints.deploy("sdk-hi", "sdk-hi", source)
    assert endpoint.state == "ENABLED"
    assert client.files.get(endpoint.handler_script_path).decode() == source
    assert client.endpoints.call("sdk-hi", query={"name": "Ada"}).text == "Hi Ada"
    assert "sdk-hi" in {e.id for e in client.endpoints.list()}


def test_packages_instances_and_background_invoke(sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    client = client_for(sdk_stack)
    client.packages.create("sdk-greeter", fetch_if_exists=True)
    version = client.packages.create_version("sdk-greeter", "1.0", "def greet(name):\n    return 'Hello ' + name\n")
    assert [m["name"] for m in version.methods] == ["greet"]
    client.instances.create("sdk-greeter", "sdk-greeter-1", fetch_if_exists=True)
    assert client.invoke("default", "sdk-greeter-1", "greet", {"name": "Ada"}).value == "Hello Ada"
    called = client.invoke("default", "sdk-greeter-1", "greet", {"name": "Bo"}, background=True)
    assert called.task is not None
    assert client.packages.wait(called.task.id, timeout=60) == "Hello Bo"


def test_client_from_env_reads_what_make_dev_prints(sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    client = taskport.Client.from_env(sdk_stack["env"])
    assert client.url == sdk_stack["url"] and client.token == sdk_stack["credentials"]["token"]
    assert client.workflows.list() is not None
