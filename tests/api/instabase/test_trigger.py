"""Triggering endpoints at /api/v1/http-endpoint/u/<path>: the handler runs in the sandbox."""
from __future__ import annotations

import json
import time

import pytest

from tests.api.instabase.conftest import bearer, create_endpoint, put_script

ROOT = "/api/v1/http-endpoint"
SHORT_TTL = 0.5

ECHO = '''
import json
import time
from flask import Response

def handler(request, *args, **kwargs):
    return Response(json.dumps({
        "method": request.method, "path": request.path, "args": request.args.to_dict(flat=False),
        "json": request.get_json(silent=True), "form": request.form.to_dict(),
        "data": request.get_data(as_text=True), "auth": request.headers.get("Authorization"),
        "probe": request.headers.get("X-Probe"),
    }), mimetype="application/json", status=202, headers={"X-From-Handler": "yes"})
'''


def script_endpoint(client, account, source, path="probe", script="/s/probe.py"):
    assert put_script(client, account, script, source).status_code == 200
    assert create_endpoint(client, account, f"id-{path}", path, script).status_code == 201


def error(response):
    body = json.loads(response.body)
    assert body["status"] == "ERROR"
    return body["msg"]


def test_seed_hello_answers_hello_world(client, hello):
    response = client.http.get(f"{ROOT}/u/helloworld", headers=bearer(hello))
    assert response.status_code == 200
    assert response.body == b"Hello World"
    assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("method", ["put", "patch", "delete", "post"])
def test_seed_hello_answers_404_with_empty_body_for_other_methods(client, hello, method):
    response = getattr(client.http, method)(f"{ROOT}/u/helloworld", headers=bearer(hello))
    assert response.status_code == 404
    assert response.body == b""


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "POST"])
def test_every_method_reaches_the_handler(client, account, method):
    script_endpoint(client, account, ECHO)
    response = client.http.request(method, f"{ROOT}/u/probe?a=1&a=2",
                                   headers={**bearer(account), "X-Probe": "p"})
    assert response.status_code == 202
    assert response.headers["X-From-Handler"] == "yes"
    seen = json.loads(response.body)
    assert seen["method"] == method
    assert seen["path"] == f"{ROOT}/u/probe"
    assert seen["args"] == {"a": ["1", "2"]}
    assert seen["probe"] == "p"
    assert seen["auth"] is None  # the caller's token is not handed to user code


def test_post_with_json_form_and_raw_bodies(client, account):
    script_endpoint(client, account, ECHO)
    as_json = json.loads(client.http.post(f"{ROOT}/u/probe", body=b'{"x": [1]}', headers={
        **bearer(account), "Content-Type": "application/json"}).body)
    assert as_json["json"] == {"x": [1]}
    as_form = json.loads(client.http.post(f"{ROOT}/u/probe", body=b"a=1&b=two", headers={
        **bearer(account), "Content-Type": "application/x-www-form-urlencoded"}).body)
    assert as_form["form"] == {"a": "1", "b": "two"}
    as_xml = json.loads(client.http.post(f"{ROOT}/u/probe", body=b"<a/>", headers={
        **bearer(account), "Content-Type": "application/xml"}).body)
    assert as_xml["data"] == "<a/>"


def test_token_in_query_identifies_the_account_and_is_not_forwarded(client, account):
    script_endpoint(client, account, ECHO)
    token = account["credentials"]["token"]
    response = client.http.post(f"{ROOT}/u/probe?access_token={token}&k=v", body=b"{}",
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 202
    assert json.loads(response.body)["args"] == {"k": ["v"]}


def test_trigger_without_credentials_is_401(client, hello):
    assert client.http.get(f"{ROOT}/u/helloworld").status_code == 401


def test_missing_endpoint_is_404(client, account):
    response = client.http.get(f"{ROOT}/u/nothing-here", headers=bearer(account))
    assert response.status_code == 404
    assert "nothing-here" in error(response)


def test_disabled_endpoint_is_404_and_enabled_again_answers(client, hello):
    url = f"{ROOT}/u/helloworld"
    body = json.dumps({"enabled": False})
    headers = {**bearer(hello), "Content-Type": "application/json"}
    client.http.patch(f"{ROOT}/my-endpoint-id", body=body, headers=headers)
    assert client.http.get(url, headers=bearer(hello)).status_code == 404
    client.http.patch(f"{ROOT}/my-endpoint-id", body=json.dumps({"enabled": True}), headers=headers)
    assert client.http.get(url, headers=bearer(hello)).status_code == 200


def test_another_accounts_endpoint_is_404(client, hello, other_account):
    response = client.http.get(f"{ROOT}/u/helloworld", headers=bearer(other_account))
    assert response.status_code == 404


def test_missing_script_names_its_path(client, account):
    create_endpoint(client, account, "e1", "nofile", "/jaydoe/missing handler.py")
    response = client.http.get(f"{ROOT}/u/nofile", headers=bearer(account))
    assert response.status_code == 404
    assert "/jaydoe/missing handler.py" in error(response)


def test_exception_is_500_with_type_and_message(client, account):
    script_endpoint(client, account, "def handler(request):\n    return 1 / 0\n")
    response = client.http.get(f"{ROOT}/u/probe", headers=bearer(account))
    assert response.status_code == 500
    message = error(response)
    assert "ZeroDivisionError" in message and "division by zero" in message


def test_timeout_is_504(client, account, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_HANDLER_WALL_SECONDS", "0.5")
    config.get_settings.cache_clear()
    script_endpoint(client, account, "import time\ndef handler(request):\n    time.sleep(10)\n")
    assert client.http.get(f"{ROOT}/u/probe", headers=bearer(account)).status_code == 504


def test_answer_over_limit_is_502(client, account, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_HANDLER_OUTPUT_BYTES", "100")
    config.get_settings.cache_clear()
    script_endpoint(client, account, "def handler(request):\n    return 'x' * 1000\n")
    response = client.http.get(f"{ROOT}/u/probe", headers=bearer(account))
    assert response.status_code == 502
    assert "limit" in error(response)


@pytest.mark.parametrize("returned", ["{'a': 1}", "Response('<p>x</p>', mimetype='text/html')"])
def test_refused_return_is_502_with_clear_json_error(client, account, returned):
    script_endpoint(client, account,
                    f"from flask import Response\ndef handler(request):\n    return {returned}\n")
    response = client.http.get(f"{ROOT}/u/probe", headers=bearer(account))
    assert response.status_code == 502
    assert "application/json or text/plain" in error(response)


def test_crash_is_500(client, account):
    script_endpoint(client, account, "import os\ndef handler(request):\n    os._exit(1)\n")
    response = client.http.get(f"{ROOT}/u/probe", headers=bearer(account))
    assert response.status_code == 500
    assert "without answering" in error(response)


def test_updated_script_is_used_after_upload(client, account):
    script_endpoint(client, account, "def handler(request):\n    return 'one'\n")
    assert client.http.get(f"{ROOT}/u/probe", headers=bearer(account)).body == b"one"
    put_script(client, account, "/s/probe.py", "def handler(request):\n    return 'two'\n")
    assert client.http.get(f"{ROOT}/u/probe", headers=bearer(account)).body == b"two"


def test_warm_trigger_costs_two_aws_calls_with_its_run_record(client, hello, monkeypatch):
    from botocore.client import BaseClient

    calls: list[str] = []
    original = BaseClient._make_api_call

    def counted(self, operation_name, api_params):
        calls.append(f"{self.meta.service_model.service_name}.{operation_name}")
        return original(self, operation_name, api_params)

    client.http.get(f"{ROOT}/u/helloworld", headers=bearer(hello))  # warms auth and script caches
    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    response = client.http.get(f"{ROOT}/u/helloworld", headers=bearer(hello))
    assert response.status_code == 200
    # The endpoint look-up, and the run record (docs/observability.md): at most 2 by design.
    assert calls == ["dynamodb.GetItem", "dynamodb.PutItem"]


def _s3_calls(monkeypatch) -> list[tuple[str, dict]]:
    from botocore.client import BaseClient

    calls: list[tuple[str, dict]] = []
    original = BaseClient._make_api_call

    def counted(self, operation_name, api_params):
        if self.meta.service_model.service_name == "s3":
            calls.append((operation_name, dict(api_params)))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    return calls


def _short_script_cache(monkeypatch) -> None:
    from chalicelib import config
    from chalicelib.sandbox import client as sandbox_client

    sandbox_client.local_url()  # started now, so that the first trigger is not slower than the TTL
    monkeypatch.setenv("TASKPORT_SCRIPT_CACHE_SECONDS", str(SHORT_TTL))
    config.get_settings.cache_clear()


def _store_behind_the_cache(account, path, source):
    """Write the script straight to S3, as another warm API process would."""
    from chalicelib import aws, files
    from chalicelib.config import get_settings

    aws.client("s3").put_object(Bucket=get_settings().bucket,
                                Key=files._key(account["id"], path), Body=source.encode())


def test_script_is_cached_until_its_ttl_then_revalidated_by_etag(client, account, monkeypatch):
    _short_script_cache(monkeypatch)
    script_endpoint(client, account, "def handler(request):\n    return 'one'\n")
    assert client.http.get(f"{ROOT}/u/probe", headers=bearer(account)).body == b"one"
    calls = _s3_calls(monkeypatch)
    assert client.http.get(f"{ROOT}/u/probe", headers=bearer(account)).body == b"one"
    assert calls == []  # fresh: no S3 call at all
    time.sleep(SHORT_TTL + 0.1)
    assert client.http.get(f"{ROOT}/u/probe", headers=bearer(account)).body == b"one"
    assert [(name, "IfNoneMatch" in params) for name, params in calls] == [("GetObject", True)]


def test_script_changed_by_another_process_is_seen_after_the_ttl(client, account, monkeypatch):
    _short_script_cache(monkeypatch)
    script_endpoint(client, account, "def handler(request):\n    return 'one'\n")
    assert client.http.get(f"{ROOT}/u/probe", headers=bearer(account)).body == b"one"
    _store_behind_the_cache(account, "/s/probe.py", "def handler(request):\n    return 'two'\n")
    assert client.http.get(f"{ROOT}/u/probe", headers=bearer(account)).body == b"one"
    time.sleep(SHORT_TTL + 0.1)
    assert client.http.get(f"{ROOT}/u/probe", headers=bearer(account)).body == b"two"
