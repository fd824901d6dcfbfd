"""Files API: PUT/GET/DELETE /api/v1/fs/files?path=, GET /api/v1/fs/list?prefix=."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.api.instabase.conftest import HELLO, HELLO_PATH, bearer, put_script


def test_put_then_get_returns_the_same_bytes(client, account):
    stored = put_script(client, account, HELLO_PATH, HELLO)
    assert stored.status_code == 200
    assert json.loads(stored.body) == {"status": "OK", "path": HELLO_PATH, "size": len(HELLO)}
    read = client.http.get(f"/api/v1/fs/files?path={quote(HELLO_PATH)}", headers=bearer(account))
    assert read.status_code == 200
    assert read.body.decode() == HELLO


def test_put_accepts_any_content_type(client, account):
    for content_type in ("application/octet-stream", "text/plain", "application/json"):
        response = client.http.put("/api/v1/fs/files?path=/a/b.txt", body=b"{}",
                                   headers={**bearer(account), "Content-Type": content_type})
        assert response.status_code == 200, content_type


def test_put_over_script_limit_is_413(client, account, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_MAX_SCRIPT_BYTES", "10")
    config.get_settings.cache_clear()
    response = put_script(client, account, "/a/big.py", "x" * 11)
    assert response.status_code == 413
    assert json.loads(response.body)["status"] == "ERROR"


@pytest.mark.parametrize("path", ["/a/../b.py", "/a//b.py", "relative.py", "/a/./b.py", "/a/",
                                  "/" + "x" * 1100, "/a/b\x01.py", ""])
def test_bad_paths_are_400(client, account, path):
    response = put_script(client, account, path, "x = 1")
    assert response.status_code == 400
    body = json.loads(response.body)
    assert body["status"] == "ERROR" and body["msg"]


def test_missing_path_parameter_is_400(client, account):
    response = client.http.get("/api/v1/fs/files", headers=bearer(account))
    assert response.status_code == 400


def test_get_missing_file_is_404_naming_it(client, account):
    response = client.http.get("/api/v1/fs/files?path=/no/such.py", headers=bearer(account))
    assert response.status_code == 404
    assert "/no/such.py" in json.loads(response.body)["msg"]


def test_delete_removes_the_file(client, account):
    put_script(client, account, HELLO_PATH, HELLO)
    url = f"/api/v1/fs/files?path={quote(HELLO_PATH)}"
    assert client.http.delete(url, headers=bearer(account)).status_code == 200
    assert client.http.get(url, headers=bearer(account)).status_code == 404
    assert client.http.delete(url, headers=bearer(account)).status_code == 404


def test_list_by_prefix(client, account):
    for path in ("/jaydoe/a.py", "/jaydoe/sub dir/b.py", "/other/c.py"):
        put_script(client, account, path, "x = 1")
    listed = client.http.get("/api/v1/fs/list?prefix=/jaydoe/", headers=bearer(account))
    assert listed.status_code == 200
    assert [f["path"] for f in json.loads(listed.body)["files"]] == ["/jaydoe/a.py",
                                                                      "/jaydoe/sub dir/b.py"]
    everything = client.http.get("/api/v1/fs/list", headers=bearer(account))
    assert len(json.loads(everything.body)["files"]) == 3


def test_list_pages_with_cursor(client, account):
    for n in range(3):
        put_script(client, account, f"/p/{n}.py", "x = 1")
    first = json.loads(client.http.get("/api/v1/fs/list?prefix=/p/&limit=2",
                                       headers=bearer(account)).body)
    assert len(first["files"]) == 2 and first["cursor"]
    second = json.loads(client.http.get(f"/api/v1/fs/list?prefix=/p/&limit=2&cursor="
                                        f"{quote(first['cursor'])}", headers=bearer(account)).body)
    assert [f["path"] for f in second["files"]] == ["/p/2.py"]


def test_files_are_private_to_the_account(client, account, other_account):
    put_script(client, account, HELLO_PATH, HELLO)
    url = f"/api/v1/fs/files?path={quote(HELLO_PATH)}"
    assert client.http.get(url, headers=bearer(other_account)).status_code == 404
    listed = client.http.get("/api/v1/fs/list", headers=bearer(other_account))
    assert json.loads(listed.body)["files"] == []


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic abc"}])
def test_files_need_a_bearer_token(client, headers):
    response = client.http.get("/api/v1/fs/list", headers=headers)
    assert response.status_code == 401
    assert json.loads(response.body)["status"] == "ERROR"
