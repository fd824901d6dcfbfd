"""Fixtures for the Instabase surface: bearer headers, a stored script, an endpoint."""
from __future__ import annotations

import json
from typing import Any
from collections.abc import Iterator
from urllib.parse import quote

import pytest

HELLO_PATH = "/jaydoe/my_repo/fs/Instabase Drive/handlers/hello.py"
HELLO = '''from flask import Request, Response
from typing import Any

def handler(request:Request, *args: Any, **kwargs: Any):
    if request.method == "GET":
        return Response("Hello World", mimetype="text/plain")
    else:
        return Response(status=404)
'''


@pytest.fixture(autouse=True)
def forget_scripts() -> Iterator[None]:
    from chalicelib import files

    files.reset()
    yield
    files.reset()


def bearer(account: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {account['credentials']['token']}"}


def put_script(client: Any, account: dict[str, Any], path: str, source: str | bytes) -> Any:
    data = source.encode() if isinstance(source, str) else source
    return client.http.put(f"/api/v1/fs/files?path={quote(path)}", body=data,
                           headers={**bearer(account), "Content-Type": "text/x-python"})


def create_endpoint(client: Any, account: dict[str, Any], endpoint_id: str, path: str,
                    handler: str = HELLO_PATH) -> Any:
    return client.http.put(f"/api/v1/http-endpoint/{endpoint_id}",
                           body=json.dumps({"path": path, "handler_script_path": handler}),
                           headers={**bearer(account), "Content-Type": "application/json"})


@pytest.fixture
def hello(client: Any, account: dict[str, Any]) -> dict[str, Any]:
    """The seed's hello script stored and served at u/helloworld by endpoint my-endpoint-id."""
    assert put_script(client, account, HELLO_PATH, HELLO).status_code == 200
    assert create_endpoint(client, account, "my-endpoint-id", "helloworld").status_code == 201
    return account
