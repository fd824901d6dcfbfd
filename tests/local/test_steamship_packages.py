"""Real Steamship packages (a `ship deploy` zip) deployed and called through the official client
on the local stack: the build installs requirements.txt from the wheelhouse into a bundle, and
calls run api.py through the SDK's own entry point in the sandbox."""
from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from steamship import Steamship, SteamshipError
from steamship.data.package import Package, PackageInstance, PackageVersion
from steamship.utils.url import Verb

from tests.conftest import ADMIN_TOKEN
from tests.local.test_stack import _call
from tests.local.test_stack import dev_stack  # noqa: F401 - the stack fixture, started per module

API = '''"""A Steamship package as `ship deploy` finds it."""
import os
import sys
from typing import Type

import steamship
from steamship import SteamshipError
from steamship.invocable import Config, InvocableResponse, PackageService, get, post


class GreeterConfig(Config):
    greeting: str = "Hello"


class Greeter(PackageService):
    config: GreeterConfig

    @classmethod
    def config_cls(cls) -> Type[Config]:
        return GreeterConfig

    @post("greet")
    def greet(self, name: str = "World") -> InvocableResponse:
        return InvocableResponse(json={"greeting": f"{self.config.greeting}, {name}!"})

    @get("shout")
    def shout(self, text: str = "") -> str:
        print(f"shouting {text}")
        return text.upper()

    @post("refuse")
    def refuse(self) -> str:
        raise SteamshipError(message="not today", code="NotToday")

    @get("where")
    def where(self) -> dict:
        modules = ("steamship", "pydantic", "requests")
        return {"modules": {m: sys.modules[m].__file__ for m in modules},
                "environment": sorted(os.environ), "key": self.client.config.api_key.get_secret_value()}
'''
MANIFEST = {"type": "package", "handle": "zipped", "version": "1.0.0", "public": False,
            "entrypoint": "Unused", "configTemplate": {
                "greeting": {"type": "string", "default": "Hello"}}}
TEMPLATE = {"greeting": {"type": "string", "default": "Hello"}}


def ship_zip(api: str = API, requirements: str | None = "steamship==2.17.34\n",
             extra: dict[str, str] | None = None) -> bytes:
    """A zip shaped as `ship deploy` builds it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("api.py", api)
        archive.writestr("steamship.json", json.dumps(MANIFEST))
        if requirements is not None:
            archive.writestr("requirements.txt", requirements)
        for name, text in (extra or {}).items():
            archive.writestr(name, text)
    return out.getvalue()


@pytest.fixture(scope="module")
def stack(dev_stack: dict[str, Any]) -> str:  # noqa: F811 - uses the imported fixture
    return dev_stack["url"]


@pytest.fixture(scope="module")
def client(stack: str) -> Steamship:
    status, account = _call(stack + "/admin/v1/accounts", "POST", {"handle": "zipper"},
                            {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status == 201, account
    return Steamship(api_key=account["credentials"]["token"], api_base=f"{stack}/api/v1/",
                     app_base=f"{stack}/", workspace="ship")


@pytest.fixture(scope="module")
def deployed(client: Steamship) -> PackageVersion:
    package = Package.create(client, handle="zipped")
    return PackageVersion.create(client, package.id, "1.0.0", filebytes=ship_zip(),
                                 config_template=TEMPLATE)


def _deploy_failure(client: Steamship, handle: str, data: bytes) -> SteamshipError:
    package = Package.create(client, handle=handle, fetch_if_exists=True)
    with pytest.raises(SteamshipError) as raised:
        PackageVersion.create(client, package.id, "1.0.0", filebytes=data)
    return raised.value


def test_version_create_builds_a_ship_deploy_zip(client, deployed):
    assert deployed.handle == "1.0.0" and deployed.id
    assert deployed.config_template == TEMPLATE


def test_instance_config_reaches_self_config(client, deployed):
    instance = client.use("zipped", "howdy", config={"greeting": "Howdy"})
    assert instance.invoke("greet", name="Ann") == {"greeting": "Howdy, Ann!"}
    plain = PackageInstance.create(client, package_handle="zipped", handle="plain")
    assert plain.invoke("greet") == {"greeting": "Hello, World!"}


def test_get_method_gets_its_query_arguments(client, deployed):
    instance = client.use("zipped", "loud")
    assert instance.invoke("shout", verb=Verb.GET, text="quiet") == "QUIET"


def test_package_error_is_raised_with_its_message_and_code(client, deployed):
    instance = client.use("zipped", "refuser")
    with pytest.raises(SteamshipError) as raised:
        instance.invoke("refuse")
    assert "not today" in raised.value.message and raised.value.code == "NotToday"


def test_package_runs_the_sdk_from_its_bundle_with_no_credential(client, deployed):
    where = client.use("zipped", "where").invoke("where", verb=Verb.GET)
    for module, path in where["modules"].items():
        assert "taskport-bundles" in path and "site-packages" not in path, (module, path)
    assert where["key"] == "taskport-placeholder-opens-nothing"
    assert not [name for name in where["environment"] if name.startswith(("AWS", "TASKPORT"))]


def test_unknown_method_of_a_bundle_answers_not_found(client, deployed):
    instance = client.use("zipped", "lost")
    with pytest.raises(SteamshipError) as raised:
        instance.invoke("nowhere")
    assert raised.value.code == "NotFound" and "greet" in raised.value.message


def test_bad_zip_is_refused_at_upload(client):
    error = _deploy_failure(client, "broken-zip", b"this is not a zip")
    assert "not a readable zip" in error.message


def test_zip_without_api_py_is_refused_at_upload(client):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("main.py", "print(1)")
    error = _deploy_failure(client, "no-api", out.getvalue())
    assert "no api.py" in error.message


def test_syntax_error_fails_the_build_with_its_text(client):
    error = _deploy_failure(client, "bad-syntax", ship_zip(api=API + "\ndef broken(:\n"))
    assert "SyntaxError" in error.message
    with pytest.raises(SteamshipError):
        PackageInstance.create(client, package_handle="bad-syntax", handle="never")


def test_no_package_service_fails_the_build(client):
    error = _deploy_failure(client, "no-service", ship_zip(api="X = 1\n"))
    assert "Could not find package or plugin class" in error.message


def test_two_package_services_fail_the_build(client):
    second = API + "\n\nclass Other(PackageService):\n    pass\n"
    error = _deploy_failure(client, "two-services", ship_zip(api=second))
    assert "too many invocable classes" in error.message


def test_requirement_missing_from_wheelhouse_fails_the_build_with_pip_text(client):
    error = _deploy_failure(client, "pip-fails", ship_zip(
        requirements="steamship==2.17.34\nno-such-distribution-here==9.9\n"))
    assert "pip exit" in error.message and "no-such-distribution-here" in error.message


def test_requirement_option_lines_are_refused(client):
    error = _deploy_failure(client, "pip-option", ship_zip(
        requirements="--index-url http://127.0.0.1:9/simple\nsteamship==2.17.34\n"))
    assert "not a plain requirement" in error.message


def test_package_without_steamship_requirement_fails_the_build(client):
    error = _deploy_failure(client, "no-sdk", ship_zip(requirements=None))
    assert "steamship" in error.message


def test_version_delete_removes_the_version_and_its_instances(client, deployed):
    package = Package.get(client, handle="zipped")
    extra = PackageVersion.create(client, package.id, "1.0.1", filebytes=ship_zip())
    instance = client.use("zipped", "short-lived", version="1.0.1")
    extra.delete()
    with pytest.raises(SteamshipError) as raised:
        PackageInstance.get(client, handle=instance.handle)
    assert raised.value.code == "NotFound"


def _background_refusal(client: Steamship, deployed: PackageVersion,
                        handle: str) -> SteamshipError:
    instance = client.use("zipped", handle, version=deployed.handle)
    task = client.post(f"ship/{handle}/refuse", {}, is_package_call=True,
                       package_owner=instance.user_handle, as_background_task=True)
    with pytest.raises(SteamshipError) as raised:
        task.wait(max_timeout_s=90, retry_delay_s=0.3)
    return raised.value


def test_failed_background_method_raises_its_message_through_the_client(client, deployed):
    error = _background_refusal(client, deployed, "later-refuser")
    with pytest.raises(SteamshipError) as at_once:
        client.use("zipped", "later-refuser", version=deployed.handle).invoke("refuse")
    assert "not today" in error.message and error.message == at_once.value.message
    assert error.code  # the client has a code to show (TaskFailed: see the test below)


def test_failed_background_method_raises_its_own_code_through_the_client(client, deployed):
    assert _background_refusal(client, deployed, "later-coder").code == "NotToday"


def test_bundle_call_is_a_run_with_its_output_and_usage(client, stack, deployed):
    client.use("zipped", "recorded", version=deployed.handle).invoke(
        "shout", verb=Verb.GET, text="on the record")
    token = client.config.api_key.get_secret_value()
    status, found = _call(f"{stack}/taskport/v1/runs?instance=ship/recorded", headers={
        "Authorization": f"Bearer {token}"})
    assert status == 200 and found["runs"], found
    run = found["runs"][0]
    assert run["status"] == "ok" and "shouting on the record" in run["stdout"]
    assert run["cpu_ms"] > 0 and run["max_rss_bytes"] > 0
