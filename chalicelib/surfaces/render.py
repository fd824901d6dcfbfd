"""How each surface writes a domain error: one renderer per seed's error body."""
from __future__ import annotations

from chalice import Response

from chalicelib.errors import (Conflict, Forbidden, Invalid, InvalidInput, MalformedBody,
                               MethodNotAllowed, NotFound, PayloadTooLarge, TaskportError,
                               TooManyRequests, Unauthorized, UnsupportedMediaType)
from chalicelib.packages.errors import MethodFailed
from chalicelib.surfaces.http import json_response
from chalicelib.workflows import NotCancelable, TaskCanceled


def _headers(err: TaskportError) -> dict[str, str]:
    if isinstance(err, Unauthorized):
        return {"WWW-Authenticate": err.challenge}
    if isinstance(err, TooManyRequests):
        return {"Retry-After": str(err.retry_after)}
    return {}


def dragon_error(err: TaskportError) -> Response:
    """Task API: 400 lists `errors` ({name, location, description}); others carry `message`."""
    if err.status_code == 400:
        errors = [{
            "name": err.field or "body",
            "location": err.location or "body",
            "description": err.message,
        }]
        return json_response({"status": "error", "errors": errors}, 400)
    return json_response({"status": "error", "message": err.message}, err.status_code,
                         _headers(err) or None)


ONESPACE_API_VERSION = "2014-08-28"
# Most specific first. Codes the seed does not name (auth, size, method) follow its style: a
# JSON string, the HTTP status followed by "00".
ONESPACE_CODES: list[tuple[type[TaskportError], str, str]] = [
    (MalformedBody, "65464", "Unable to parse request body."),
    (InvalidInput, "65577", "Invalid Task input data."),
    (TaskCanceled, "61286", "Task is canceled."),
    (NotCancelable, "56947", "Task is not cancelable."),
    (NotFound, "66868", "Invalid Task endpoint."),
    (Conflict, "50688", "A conflicted Task was found."),
    (Unauthorized, "40100", "Invalid credentials."),
    (Forbidden, "40300", "Forbidden."),
    (PayloadTooLarge, "41300", "Request entity too large."),
    (MethodNotAllowed, "40500", "Method not allowed."),
    (UnsupportedMediaType, "41500", "Unsupported media type."),
]
ONESPACE_NULL_DATA = ("65464", "61286", "56947", "66868", "50688")
ONESPACE_MISSING_FIELD = "Required field not found."


def _onespace_data(err: TaskportError) -> dict[str, str] | None:
    """The seed's `data`: name -> message of each field in error, or None."""
    if not isinstance(err, Invalid):
        return None
    missing = err.missing if isinstance(err, InvalidInput) else ()
    data = {name: ONESPACE_MISSING_FIELD for name in missing}
    data.update(err.fields)
    return data or None


def onespace_error(err: TaskportError) -> Response:
    """Workflow API: `{code, message, data}`; code is a JSON string; data maps name -> message."""
    for kind, code, message in ONESPACE_CODES:  # noqa: B007  (the match is used after the loop)
        if isinstance(err, kind):
            break
    else:
        code, message = ("54421", "Invalid request information.") if err.status_code == 400 \
            else ("50000", "Internal server error.")
    data = _onespace_data(err)
    if data is None and code not in ONESPACE_NULL_DATA and err.status_code < 500:
        data = {err.field or "request": err.message}
    headers = {"CS-API-Version": ONESPACE_API_VERSION}
    if isinstance(err, Unauthorized):
        headers["WWW-Authenticate"] = 'Basic realm="taskport"'
    return json_response({"code": code, "message": message, "data": data}, err.status_code, headers)


def instabase_error(err: TaskportError) -> Response:
    """HTTP endpoints and files: `{"status": "ERROR", "msg": ...}`."""
    return json_response({"status": "ERROR", "msg": err.message}, err.status_code, _headers(err))


def steamship_error(err: TaskportError) -> Response:
    """Packages and workspaces: the engine response format with a failed task, as the seed's
    `task` and as the official client's `status` (which it raises as SteamshipError)."""
    code = err.code if isinstance(err, MethodFailed) and err.code else type(err).__name__
    return json_response({"task": {"taskState": "failed", "taskMessage": err.message,
                                   "taskStatusCode": err.status_code},
                          "status": {"state": "failed", "statusMessage": err.message,
                                     "statusCode": code}}, err.status_code, _headers(err))


def taskport_error(err: TaskportError) -> Response:
    """Admin and Taskport's own API (/taskport/v1): `{"error": {"type", "message", "field"?}}`."""
    body = {"type": type(err).__name__, "message": err.message}
    if err.field:
        body["field"] = err.field
    return json_response({"error": body}, err.status_code, _headers(err))
