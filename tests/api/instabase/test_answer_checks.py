"""What a handler answers is checked by the parent before the API passes it on."""
from __future__ import annotations

import json

from tests.api.instabase.conftest import bearer
from tests.api.instabase.test_trigger import ROOT, error, script_endpoint

FORGE = '''
import json, os, struct

def handler(request, *args, **kwargs):
    header = json.loads({header!r})
    body = {body!r}
    header["body_length"] = len(body)
    raw = json.dumps(header).encode()
    os.write(3, struct.pack(">I", len(raw)) + raw + body)  # the answer descriptor
    os._exit(0)
'''


def forged(header: dict, body: bytes = b"") -> str:
    """A handler that writes its own answer frame on the answer descriptor and exits."""
    return FORGE.format(header=json.dumps(header), body=body)


def handler_returning(*lines: str) -> str:
    """A handler that imports flask's Response and runs `lines` as its body."""
    return "from flask import Response\ndef handler(request):\n" + "".join(
        f"    {line}\n" for line in lines)


def trigger(client, account, source):
    script_endpoint(client, account, source)
    return client.http.get(f"{ROOT}/u/probe", headers=bearer(account))


def header_names(response) -> list[str]:
    return [name.lower() for name in response.headers]


def test_two_content_types_are_refused_not_served_as_html(client, account):
    response = trigger(client, account, handler_returning(
        "answer = Response('<script>alert(1)</script>', mimetype='text/plain')",
        "answer.headers.add('Content-Type', 'text/html')",
        "return answer"))
    assert response.status_code == 502
    assert "Content-Type" in error(response)
    assert not response.headers.get("Content-Type", "").startswith("text/html")


def test_forged_frame_cannot_serve_html(client, account):
    response = trigger(client, account, forged(
        {"outcome": "ok", "status": 200, "mimetype": "text/html",
         "headers": {"Content-Type": "text/html", "Set-Cookie": "session=forged"}},
        b"<script>alert(1)</script>"))
    assert response.status_code == 502
    assert "set-cookie" not in header_names(response)
    assert b"<script>" not in response.body


def test_forged_frame_gets_only_what_a_handler_may_answer(client, account):
    response = trigger(client, account, forged(
        {"outcome": "ok", "status": 201, "mimetype": "text/plain",
         "headers": [["Content-Type", "text/plain"], ["Set-Cookie", "session=forged"],
                     ["Clear-Site-Data", '"*"'], ["X-Mine", "kept"]]},
        b"forged but plain"))
    assert response.status_code == 201
    assert response.body == b"forged but plain"
    assert response.headers["X-Mine"] == "kept"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert {"set-cookie", "clear-site-data"}.isdisjoint(header_names(response))


def test_set_cookie_from_a_handler_is_dropped(client, account):
    response = trigger(client, account, handler_returning(
        "answer = Response('hi', mimetype='text/plain', headers={'X-Kept': '1'})",
        "answer.set_cookie('session', 'mine')",
        "return answer"))
    assert response.status_code == 200 and response.body == b"hi"
    assert response.headers["X-Kept"] == "1"
    assert "set-cookie" not in header_names(response)
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_header_with_a_line_break_is_refused_with_a_clear_error(client, account):
    response = trigger(client, account, forged(
        {"outcome": "ok", "status": 200, "mimetype": "text/plain",
         "headers": {"Content-Type": "text/plain", "X-Split": "a\r\nSet-Cookie: x=1"}}, b"x"))
    assert response.status_code == 502
    assert "X-Split" in error(response)


def test_header_value_beyond_latin1_is_refused(client, account):
    response = trigger(client, account, handler_returning(
        "return Response('x', mimetype='text/plain', headers={'X-Name': '\u65e5\u672c'})"))
    assert response.status_code == 502
    assert "X-Name" in error(response)


def test_invalid_header_name_is_refused(client, account):
    response = trigger(client, account, forged(
        {"outcome": "ok", "status": 200, "mimetype": "text/plain",
         "headers": {"Content-Type": "text/plain", "Bad Name:": "v"}}, b"x"))
    assert response.status_code == 502


def test_many_headers_are_refused(client, account):
    response = trigger(client, account, handler_returning(
        "answer = Response('x', mimetype='text/plain')",
        "for i in range(5000):",
        "    answer.headers.add(f'X-H{i}', 'v')",
        "return answer"))
    assert response.status_code == 502
    assert "5001 headers" in error(response)


def test_a_megabyte_of_headers_is_refused(client, account):
    response = trigger(client, account, handler_returning(
        "return Response('x', mimetype='text/plain', headers={'X-Big': 'v' * 1_000_000})"))
    assert response.status_code == 502
    assert "bytes of headers" in error(response)


def test_repeated_header_is_one_field(client, account):
    response = trigger(client, account, handler_returning(
        "answer = Response('x', mimetype='text/plain')",
        "answer.headers.add('X-Tag', 'a')",
        "answer.headers.add('x-tag', 'b')",
        "return answer"))
    assert response.status_code == 200
    assert response.headers["X-Tag"] == "a, b"


def test_binary_body_passes_intact(client, account):
    payload = bytes(range(256)) * 4
    response = trigger(client, account, handler_returning(
        f"return Response({payload!r}, mimetype='text/plain')"))
    assert response.status_code == 200
    assert response.body == payload
    assert response.headers["Content-Type"].startswith("text/plain")


def test_latin1_text_keeps_its_charset_and_bytes(client, account):
    response = trigger(client, account, handler_returning(
        "return Response('caf\\xe9'.encode('latin-1'), content_type='text/plain; charset=iso-8859-1')"))
    assert response.status_code == 200
    assert response.body == b"caf\xe9"
    assert response.headers["Content-Type"] == "text/plain; charset=iso-8859-1"


def test_status_without_a_body_cannot_carry_one(client, account):
    response = trigger(client, account, handler_returning(
        "return Response('x', status=204, mimetype='text/plain')"))
    assert response.status_code == 502
