"""The parent's checks of a handler's answer frame (wire.checked_http_answer)."""
from __future__ import annotations

import pytest

from chalicelib.sandbox import Refused
from chalicelib.sandbox.wire import MAX_ANSWER_HEADERS, checked_http_answer


def ok(headers, status=200, body=b"x"):
    return checked_http_answer({"status": status, "headers": headers}, body)


@pytest.mark.parametrize("headers", ["text", 7, [["only-one"]], [[1, "v"]], {"X": 3}])
def test_malformed_headers_are_refused(headers):
    with pytest.raises(Refused):
        ok(headers)


@pytest.mark.parametrize("status", [True, 99, 101, 600, "200", None, 200.0])
def test_status_outside_200_to_599_is_refused(status):
    with pytest.raises(Refused):
        ok([["Content-Type", "text/plain"]], status=status)


def test_header_count_cap_counts_every_field():
    fields = [["Content-Type", "text/plain"]] + [["X-A", "v"]] * MAX_ANSWER_HEADERS
    with pytest.raises(Refused):
        ok(fields)
    assert ok(fields[:MAX_ANSWER_HEADERS]).headers["X-A"].count("v") == MAX_ANSWER_HEADERS - 1


def test_content_type_case_variants_become_one():
    answer = ok([["content-type", "application/json"], ["CONTENT-TYPE", "application/json"]])
    assert [k for k in answer.headers if k.lower() == "content-type"] == ["Content-Type"]
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.mimetype == "application/json"


def test_empty_body_of_another_type_passes_without_a_type():
    answer = ok([["Content-Type", "text/html"]], status=404, body=b"")
    assert answer.status == 404 and "Content-Type" not in answer.headers


def test_malformed_charset_is_replaced():
    answer = ok([["Content-Type", 'text/plain; charset="a b"; x=<script>']])
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_tab_is_allowed_in_a_value():
    assert ok([["Content-Type", "text/plain"], ["X-T", "a\tb"]]).headers["X-T"] == "a\tb"
