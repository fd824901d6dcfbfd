"""package/version/create with a multipart upload (the official client's PackageVersion.create):
bad input answers the Steamship error format with a clear message, never a 500."""
from __future__ import annotations

import json
from typing import Any

from tests.api.steamship.conftest import bearer, call

BOUNDARY = "testboundary"


def _upload(client: Any, account: dict[str, Any], fields: dict[str, str],
            file: bytes | None, content_type: str | None = None) -> tuple[int, Any]:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    if file is not None:
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                     'filename="package.zip"\r\n\r\n'.encode() + file + b"\r\n")
    body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
    headers = {**bearer(account),
               "Content-Type": content_type or f"multipart/form-data; boundary={BOUNDARY}"}
    response = client.http.post("/api/v1/package/version/create", headers=headers, body=body)
    return response.status_code, json.loads(response.body)


def _package_id(client: Any, account: dict[str, Any]) -> str:
    status, answer = call(client, account, "package/create", {"handle": "zipped"})
    assert status == 200, answer
    return answer["data"]["package"]["id"]


def test_upload_without_file_part_is_refused(client, account):
    status, answer = _upload(client, account, {"packageId": _package_id(client, account),
                                               "handle": "1.0.0"}, None)
    assert status == 400 and "no `file` part" in answer["status"]["statusMessage"]


def test_upload_of_non_zip_is_refused(client, account):
    status, answer = _upload(client, account, {"packageId": _package_id(client, account),
                                               "handle": "1.0.0"}, b"not a zip")
    assert status == 400 and "not a readable zip" in answer["status"]["statusMessage"]


def test_upload_for_unknown_package_id_answers_not_found(client, account):
    status, answer = _upload(client, account, {"packageId": "nope", "handle": "1.0.0"}, b"x")
    assert status == 404 and answer["status"]["statusCode"] == "NotFound"


def test_upload_with_bad_config_template_is_refused(client, account):
    status, answer = _upload(client, account, {"packageId": _package_id(client, account),
                                               "handle": "1.0.0", "configTemplate": "{nope"},
                             b"x")
    assert status == 400 and "configTemplate" in answer["status"]["statusMessage"]


def test_multipart_without_boundary_is_refused(client, account):
    status, answer = _upload(client, account, {"handle": "1"}, b"x",
                             content_type="multipart/form-data")
    assert status == 400 and "boundary" in answer["status"]["statusMessage"]


def _raw_upload(client: Any, account: dict[str, Any], body: bytes) -> tuple[int, Any]:
    headers = {**bearer(account), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    response = client.http.post("/api/v1/package/version/create", headers=headers, body=body)
    return response.status_code, json.loads(response.body)


def test_upload_of_thousands_of_parts_is_refused_before_it_is_parsed(client, account):
    part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="x"\r\n\r\n\r\n'.encode()
    status, answer = _raw_upload(client, account, part * 20_000 + f"--{BOUNDARY}--\r\n".encode())
    assert status == 400 and "more than 64 parts" in answer["status"]["statusMessage"]


def test_upload_whose_file_part_nests_multipart_thousands_deep_is_taken_as_bytes(client, account):
    inner = "".join(f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
                    for i in range(20_000))  # the email parser recursed into each level
    fields = {"packageId": _package_id(client, account), "handle": "1.0.0"}
    body = "".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                   for k, v in fields.items())
    body += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\n'
             f'Content-Type: multipart/mixed; boundary=b\r\n\r\n{inner}\r\n--{BOUNDARY}--\r\n')
    status, answer = _raw_upload(client, account, body.encode())
    assert status == 400, answer
    assert "not a readable zip" in answer["status"]["statusMessage"]  # parsed; the file is bytes


def test_upload_whose_last_part_is_not_closed_is_refused(client, account):
    body = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="handle"\r\n\r\n1.0.0'.encode()
    status, answer = _raw_upload(client, account, body)
    assert status == 400 and "not closed" in answer["status"]["statusMessage"]
