"""The official `steamship` client, unmodified, against the local stack over real HTTP."""
from __future__ import annotations

from typing import Any

import pytest
from steamship import Steamship, SteamshipError, Task
from steamship.base.tasks import TaskState
from steamship.data.package import Package, PackageInstance
from steamship.data.workspace import Workspace
from steamship.utils.url import Verb

from tests.conftest import ADMIN_TOKEN
from tests.local.test_stack import _call
from tests.local.test_stack import dev_stack  # noqa: F401 - the stack fixture, started per module

SOURCE = '''BACKGROUND_METHODS = ["total"]


def greet(config, name="World"):
    return f"{config.get('greeting', 'Hello')}, {name}!"


def total(numbers):
    return sum(numbers)


def fail(message="boom"):
    raise ValueError(message)
'''


@pytest.fixture(scope="module")
def stack(dev_stack: dict[str, Any]) -> str:  # noqa: F811 - uses the imported fixture
    return dev_stack["url"]


@pytest.fixture(scope="module")
def token(stack: str) -> str:
    status, account = _call(stack + "/admin/v1/accounts", "POST", {"handle": "shipper"},
                            {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status == 201, account
    bearer = {"Authorization": f"Bearer {account['credentials']['token']}"}
    status, answer = _call(stack + "/api/v1/package/create", "POST", {"handle": "greeter"}, bearer)
    assert status == 200, answer
    for version in ("1.0.0", "2.0.0"):
        status, answer = _call(stack + "/api/v1/package/version/create", "POST", {
            "packageHandle": "greeter", "handle": version,
            "source": SOURCE.replace("Hello", f"Hello v{version}")}, bearer)
        assert status == 200, answer
    return account["credentials"]["token"]


def _client(stack: str, token: str, workspace: str | None = None) -> Steamship:
    return Steamship(api_key=token, api_base=f"{stack}/api/v1/", app_base=f"{stack}/",
                     workspace=workspace)


def test_client_connects_and_anchors_its_workspace(stack, token):
    client = _client(stack, token, "anchor")
    assert client.config.workspace_handle == "anchor"
    assert client.config.workspace_id
    assert _client(stack, token).config.workspace_handle == "default"


def test_workspace_create_get_list_delete_through_client(stack, token):
    client = _client(stack, token)
    created = Workspace.create(client, handle="scratch")
    assert Workspace.get(client, handle="scratch").id == created.id
    assert Workspace.get(client, id_=created.id).handle == "scratch"
    assert "scratch" in {w.handle for w in Workspace.list(client).workspaces}
    created.delete()
    with pytest.raises(SteamshipError) as raised:
        Workspace.get(client, id_=created.id)
    assert raised.value.code == "NotFound" and created.id in raised.value.message


def test_package_create_get_delete_through_client(stack, token):
    client = _client(stack, token)
    created = Package.create(client, handle="doomed")
    assert Package.get(client, handle="doomed").id == created.id
    assert Package.create(client, handle="doomed", fetch_if_exists=True).id == created.id
    with pytest.raises(SteamshipError) as raised:
        Package.create(client, handle="doomed")
    assert raised.value.code == "Conflict"
    created.delete()
    with pytest.raises(SteamshipError) as raised:
        Package.get(client, handle="doomed")
    assert raised.value.code == "NotFound"


def test_instance_fetch_if_exists_true_false_and_unset(stack, token):
    client = _client(stack, token, "fetching")
    first = PackageInstance.create(client, package_handle="greeter", handle="one",
                                   config={"greeting": "Hi"}, fetch_if_exists=True)
    again = PackageInstance.create(client, package_handle="greeter", handle="one",
                                   fetch_if_exists=True)
    assert again.id == first.id and again.config == {"greeting": "Hi"}
    for flag in (False, None):
        with pytest.raises(SteamshipError) as raised:
            PackageInstance.create(client, package_handle="greeter", handle="one",
                                   fetch_if_exists=flag)
        assert raised.value.code == "Conflict" and "one" in raised.value.message
    assert PackageInstance.get(client, handle="one").id == first.id
    listed = PackageInstance.list(client).package_instances
    assert [i.handle for i in listed] == ["one"]


def test_instance_answers_user_handle_and_invocation_url(stack, token):
    instance = _client(stack, token, "urls").use("greeter", "named")
    assert instance.user_handle == "shipper"
    assert instance.invocation_url == f"{stack}/urls/named/"
    assert instance.workspace_handle == "urls"


def test_instance_version_pin_is_kept(stack, token):
    client = _client(stack, token, "pinned")
    old = client.use("greeter", "old", version="1.0.0")
    new = client.use("greeter", "new")
    assert (old.package_version_handle, new.package_version_handle) == ("1.0.0", "2.0.0")
    assert old.invoke("greet", name="Ann") == "Hello v1.0.0, Ann!"
    assert new.invoke("greet", name="Ann") == "Hello v2.0.0, Ann!"


def test_workspace_id_header_keeps_workspaces_apart(stack, token):
    first, second = _client(stack, token, "first"), _client(stack, token, "second")
    PackageInstance.create(first, package_handle="greeter", handle="mine",
                           config={"greeting": "First"})
    with pytest.raises(SteamshipError) as raised:
        PackageInstance.get(second, handle="mine")
    assert raised.value.code == "NotFound"
    theirs = PackageInstance.create(second, package_handle="greeter", handle="mine",
                                    config={"greeting": "Second"})
    assert theirs.workspace_handle == "second" and theirs.config == {"greeting": "Second"}
    assert PackageInstance.get(first, handle="mine").config == {"greeting": "First"}


def test_unknown_workspace_id_answers_not_found_never_default(stack, token):
    status, answer = _call(stack + "/api/v1/package/instance/list", "POST", {}, {
        "Authorization": f"Bearer {token}", "X-Workspace-Id": "no-such-workspace"})
    assert status == 404 and answer["status"]["state"] == "failed", answer
    assert "no-such-workspace" in answer["status"]["statusMessage"]


def test_invoke_with_post_and_get_verbs(stack, token):
    instance = _client(stack, token, "verbs").use("greeter", "hi", config={"greeting": "Howdy"})
    assert instance.invoke("greet", name="Ann") == "Howdy, Ann!"
    assert instance.invoke("greet", verb=Verb.GET, name="Bob") == "Howdy, Bob!"


def test_method_errors_raise_steamship_error_with_message_and_code(stack, token):
    instance = _client(stack, token, "errors").use("greeter", "hi")
    with pytest.raises(SteamshipError) as raised:
        instance.invoke("fail", message="it broke")
    assert "it broke" in raised.value.message
    with pytest.raises(SteamshipError) as raised:
        instance.invoke("missing")
    assert raised.value.code == "NotFound" and "missing" in raised.value.message


def test_background_header_returns_task_whose_wait_yields_value(stack, token):
    client = _client(stack, token, "later")
    instance = client.use("greeter", "hi", config={"greeting": "Later"})
    task = client.post("later/hi/greet", {"name": "Ann"}, is_package_call=True,
                       package_owner=instance.user_handle, as_background_task=True)
    assert isinstance(task, Task) and task.state in (TaskState.waiting, TaskState.running)
    assert task.wait(max_timeout_s=30, retry_delay_s=0.2) == "Later, Ann!"
    assert task.state == TaskState.succeeded


def test_declared_background_method_returns_task_through_invoke(stack, token):
    instance = _client(stack, token, "declared").use("greeter", "hi")
    task = instance.invoke("total", numbers=[1, 2, 3])
    assert isinstance(task, Task)
    assert task.wait(max_timeout_s=30, retry_delay_s=0.2) == 6


def test_failed_background_task_raises_its_message_on_wait(stack, token):
    client = _client(stack, token, "failing")
    instance = client.use("greeter", "hi")
    task = client.post("failing/hi/fail", {"message": "late failure"}, is_package_call=True,
                       package_owner=instance.user_handle, as_background_task=True)
    with pytest.raises(SteamshipError) as raised:
        task.wait(max_timeout_s=30, retry_delay_s=0.2)
    assert "late failure" in raised.value.message


def test_delay_and_dependency_headers_are_refused_clearly(stack, token):
    client = _client(stack, token, "delays")
    instance = client.use("greeter", "hi")
    with pytest.raises(SteamshipError) as raised:
        client.post("delays/hi/greet", {}, is_package_call=True,
                    package_owner=instance.user_handle, task_delay_ms=5000)
    assert "x-task-run-after is not supported" in raised.value.message
    with pytest.raises(SteamshipError) as raised:
        client.post("delays/hi/greet", {}, is_package_call=True,
                    package_owner=instance.user_handle, wait_on_tasks=["ABC"])
    assert "x-task-dependency is not supported" in raised.value.message
