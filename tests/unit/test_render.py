"""Each surface's error body, from the domain errors."""
from __future__ import annotations

import json

from chalicelib.errors import Invalid, MalformedBody, NotFound, TaskportError, Unauthorized
from chalicelib.surfaces import render


def _body(response):
    return json.loads(response.body)


def test_dragon_400_lists_errors_with_name_location_description():
    response = render.dragon_error(Invalid("tasks is missing", field="tasks", location="body"))
    assert response.status_code == 400
    assert _body(response) == {"status": "error", "errors": [
        {"name": "tasks", "location": "body", "description": "tasks is missing"}]}


def test_dragon_other_errors_carry_a_message():
    response = render.dragon_error(NotFound("'medium' is not a valid filename"))
    assert response.status_code == 404
    assert _body(response) == {"status": "error", "message": "'medium' is not a valid filename"}
    assert render.dragon_error(Unauthorized("invalid credentials")).status_code == 401


def test_onespace_errors_use_seed_codes_as_strings():
    response = render.onespace_error(MalformedBody("not json"))
    assert response.status_code == 400
    body = _body(response)
    assert body["code"] == "65464" and body["message"] == "Unable to parse request body."
    assert _body(render.onespace_error(NotFound("x")))["code"] == "66868"


def test_admin_and_steamship_and_instabase_are_json_with_the_message():
    assert _body(render.taskport_error(Invalid("bad", field="handle")))["error"] == {
        "type": "Invalid", "message": "bad", "field": "handle"}
    assert _body(render.steamship_error(NotFound("no such")))["task"]["taskState"] == "failed"
    assert _body(render.instabase_error(NotFound("no such")))["msg"] == "no such"


def test_internal_errors_are_500_without_detail_leaks():
    response = render.dragon_error(TaskportError("internal error"))
    assert response.status_code == 500
    assert _body(response)["message"] == "internal error"
