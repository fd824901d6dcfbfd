"""create_file (POST and GET) and /v1/file: built-in image tasks, redirects to files, failures."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

from chalicelib.config import get_settings
from tests.api.dragon.conftest import drain, post, refuse_pillow, secret_headers


def _object(location: str) -> bytes:
    from chalicelib import aws

    path = urlsplit(location).path
    key = path.split(f"/{get_settings().bucket}/", 1)[-1] if get_settings().bucket in path else path.lstrip("/")
    return aws.client("s3").get_object(Bucket=get_settings().bucket, Key=key)["Body"].read()


def _image(data: bytes):
    import io

    from PIL import Image

    return Image.open(io.BytesIO(data))


def test_create_file_post_redirects_to_thumbnail(client, account, images, running_worker):
    response = post(client, "/v1/create_file/anything.jpg",
                    {"task": {"task_name": "image.thumb", "url": images.url("/cat.png")}},
                    secret_headers(account))
    assert response.status_code == 302
    thumb = _image(_object(response.headers["Location"]))
    assert thumb.format == "JPEG"
    assert max(thumb.size) == 256


def test_create_file_makes_the_thumbnail_without_pillow_in_the_api_or_worker(
        client, account, images, running_worker, monkeypatch):
    hook = refuse_pillow(monkeypatch)  # the API and the worker thread share this process
    response = post(client, "/v1/create_file/thumb",
                    {"task": {"task_name": "image.thumb", "url": images.url("/cat.png")}},
                    secret_headers(account))
    assert response.status_code == 302, response.body
    assert _object(response.headers["Location"]).startswith(b"\xff\xd8\xff")  # a JPEG
    assert hook.asked == []


def test_create_file_without_filename_selects_the_only_file(client, account, images, running_worker):
    response = post(client, "/v1/create_file",
                    {"task": {"task_name": "image.thumb", "url": images.url("/cat.jpg"), "size": 64}},
                    secret_headers(account))
    assert response.status_code == 302
    assert _image(_object(response.headers["Location"])).size == (16, 64)


def test_create_file_get_takes_the_task_from_the_query(client, account, images, running_worker):
    api_key = account["credentials"]["api_key"]
    response = client.http.get(
        f"/v1/create_file/large?task_name=image.thumbs&url={images.url('/cat.png')}&api_key={api_key}",
        headers={"Referer": "https://app.example.com/gallery"})
    assert response.status_code == 302
    assert max(_image(_object(response.headers["Location"])).size) == 512


def test_create_file_with_invalid_filename_is_404_with_choices_and_creates_nothing(
        client, account, images, world):
    expected = {"status": "error",
                "message": "'medium' is not a valid filename, choose one of: 'small', 'large'"}
    response = post(client, "/v1/create_file/medium",
                    {"task": {"task_name": "image.thumbs", "url": images.url("/cat.png")}},
                    secret_headers(account))
    assert response.status_code == 404
    assert json.loads(response.body) == expected
    secret = account["credentials"]["secret_key"]
    by_get = client.http.get(
        f"/v1/create_file/medium?task_name=image.thumbs&url={images.url('/cat.png')}&secret={secret}")
    assert (by_get.status_code, json.loads(by_get.body)) == (404, expected)
    assert drain(world["tasks_queue"]) == 0


def test_create_file_of_failed_task_is_400_with_its_status(client, account, images, running_worker):
    url = images.url("/notes.txt")
    response = post(client, "/v1/create_file",
                    {"task": {"task_name": "image.thumb", "url": url}}, secret_headers(account))
    assert response.status_code == 400
    status = json.loads(response.body)
    assert status["status"] == "error"
    assert status["result"] == f"File {url!r} is not a valid image file"
    assert set(status["events"]) >= {"queued", "completed"}


def test_create_file_without_task_or_credentials(client, account):
    missing = post(client, "/v1/create_file", {}, secret_headers(account))
    assert json.loads(missing.body)["errors"][0]["name"] == "task"
    unauthenticated = client.http.get("/v1/create_file/x?task_name=hello&name=x")
    assert unauthenticated.status_code == 401
    bad_query = client.http.get("/v1/create_file?task_name=nope&secret="
                                + account["credentials"]["secret_key"])
    assert bad_query.status_code == 400
    assert json.loads(bad_query.body)["errors"][0]["location"] == "querystring"


def test_file_of_existing_task_redirects_to_each_named_file(client, account, images, world):
    created = post(client, "/v1/create", {"tasks": {"task_name": "image.thumbs",
                                                    "url": images.url("/cat.png")}},
                   secret_headers(account))
    key = json.loads(created.body)[0]["key"]
    drain(world["tasks_queue"])
    for name, size in (("small", 128), ("large", 512)):
        response = client.http.get(f"/v1/file/{name}?task={key}")
        assert response.status_code == 302
        assert max(_image(_object(response.headers["Location"])).size) == size
    missing_name = client.http.get(f"/v1/file?task={key}")
    assert missing_name.status_code == 404
    assert "'small', 'large'" in json.loads(missing_name.body)["message"]


def test_file_of_task_without_files_is_404_at_once(client, account, world, monkeypatch):
    from chalicelib import config

    created = post(client, "/v1/create", {"tasks": {"task_name": "hello", "name": "x"}},
                   secret_headers(account))
    key = json.loads(created.body)[0]["key"]
    monkeypatch.setenv("TASKPORT_BLOCK_WAIT_SECONDS", "600")  # a wait would hang the test
    config.get_settings.cache_clear()
    response = client.http.get(f"/v1/file/x?task={key}")
    assert (response.status_code, json.loads(response.body)) == (
        404, {"status": "error", "message": "this task has no output file"})
    by_create = post(client, "/v1/create_file", {"task": {"task_name": "image.info", "url": "http://x/y"}},
                     secret_headers(account))
    assert by_create.status_code == 404
    assert drain(world["tasks_queue"]) == 1  # only the hello task was ever created


def test_file_errors_for_missing_unknown_and_other_accounts_tasks(client, account, other_account):
    created = post(client, "/v1/create", {"tasks": {"task_name": "hello", "name": "x"}},
                   secret_headers(account))
    key = json.loads(created.body)[0]["key"]
    assert client.http.get("/v1/file/x").status_code == 400
    assert client.http.get("/v1/file/x?task=" + "B" * 26).status_code == 404
    other = client.http.get(f"/v1/file/x?task={key}", headers=secret_headers(other_account))
    assert other.status_code == 404


def test_file_not_finished_by_the_deadline_redirects_to_wait_again(client, account, monkeypatch):
    from chalicelib import config

    created = post(client, "/v1/create", {"tasks": {"task_name": "image.thumb", "url": "http://x/y.png"}},
                   secret_headers(account))
    key = json.loads(created.body)[0]["key"]
    monkeypatch.setenv("TASKPORT_BLOCK_WAIT_SECONDS", "0.1")
    config.get_settings.cache_clear()
    response = client.http.get(f"/v1/file/out.txt?task={key}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"../file/out.txt?task={key}"
    assert json.loads(response.body)["status"] == "queued"
