"""HTTP endpoints (/api/v1/http-endpoint/...) and files (/api/v1/fs/...), Bearer token."""
from __future__ import annotations

from typing import Any

from chalicelib.openapi.common import (BEARER, STRING, answer, body, errors, operation, path_param,
                                       query_param, ref)

TAG = "HTTP endpoints and files (/api/v1)"
ERROR = "EndpointError"

SCHEMAS: dict[str, Any] = {
    ERROR: {"type": "object", "required": ["status", "msg"],
            "properties": {"status": {"const": "ERROR"}, "msg": STRING}},
    "Endpoint": {"type": "object", "required": ["id", "path", "handler_script_path", "state"], "properties": {
        "id": STRING, "path": STRING, "handler_script_path": STRING, "state": {"enum": ["ENABLED", "DISABLED"]}}},
    "EndpointId": {"type": "object", "required": ["id"], "properties": {"id": STRING}},
    "StoredFile": {"type": "object", "required": ["status", "path"], "properties": {
        "status": {"const": "OK"}, "path": STRING, "size": {"type": "integer"}}},
}

FAILURES = errors(ERROR, {400: "Invalid request.", 401: "The token is missing or wrong.",
                          404: "No such endpoint or file.", 405: "Method not allowed.",
                          409: "The id or path is taken.", 413: "Body over the limit.",
                          415: "Unsupported content type.", 500: "Internal error."})
ENDPOINT_ID = path_param("endpoint_id", "The endpoint id (chosen by the caller).", "hello")
FILE_PATH = query_param("path", "The file's path.", required=True, example="/scripts/hello.py")
ENDPOINT_EXAMPLE = {"id": "hello", "path": "hello", "handler_script_path": "/scripts/hello.py",
                    "state": "ENABLED"}
ENDPOINT_BODY = {"type": "object", "properties": {
    "path": STRING, "handler_script_path": STRING, "state": {"enum": ["ENABLED", "DISABLED"]}}}
ID = answer("The endpoint's id.", ref("EndpointId"), {"id": "hello"})
TRIGGER_ANSWER = {"description": "What the handler script answered (its status, headers and body: "
                                 "`text/plain` or `application/json`).",
                  "content": {"text/plain": {"schema": STRING, "example": "Hello Ada"},
                              "application/json": {"schema": {}}}}
TRIGGER_FAILURES = {**FAILURES, **errors(ERROR, {
    502: "The handler's answer is over the limit or not allowed.", 504: "The handler timed out."})}


def _op(operation_id: str, summary: str, responses: dict[str, Any], params: list[dict[str, Any]] | None = None,
        request_body: dict[str, Any] | None = None, description: str | None = None) -> dict[str, Any]:
    return operation(operation_id, summary, TAG, security=BEARER, parameters=params, request_body=request_body,
                     responses={**responses, **FAILURES}, description=description)


def _trigger(method: str) -> dict[str, Any]:
    return operation(
        f"trigger{method.capitalize()}", f"Call an endpoint's handler script ({method.upper()})", TAG,
        security=[*BEARER, {"AccessTokenParameter": []}],
        parameters=[path_param("path", "The endpoint's path.", "hello")],
        request_body=body({}, {"name": "Ada"}, required=False,
                          media_types=("application/json", "text/plain", "application/octet-stream"))
        if method in ("post", "put", "patch") else None,
        description="Headers, query and body reach the handler as a `flask.Request`.",
        responses={"200": TRIGGER_ANSWER, **TRIGGER_FAILURES})


PATHS: dict[str, Any] = {
    "/api/v1/fs/files": {
        "put": _op("putFile", "Store a file (e.g. a handler script)", {"200": answer(
            "Stored.", ref("StoredFile"), {"status": "OK", "path": "/scripts/hello.py", "size": 120})},
            [FILE_PATH], body({"type": "string"}, "def handler(request):\n    return 'Hello'\n",
                              media_types=("application/octet-stream", "text/plain"))),
        "get": _op("getFile", "Read a file", {"200": {
            "description": "The file's bytes (text/plain when UTF-8).",
            "content": {"text/plain": {"schema": STRING, "example": "def handler(request): ..."},
                        "application/octet-stream": {"schema": STRING}}}}, [FILE_PATH]),
        "delete": _op("deleteFile", "Delete a file", {"200": answer(
            "Deleted.", ref("StoredFile"), {"status": "OK", "path": "/scripts/hello.py"})}, [FILE_PATH]),
    },
    "/api/v1/fs/list": {"get": _op("listFiles", "List files under a prefix", {"200": answer(
        "One page of files; `cursor` (when present) fetches the next.", {
            "type": "object", "required": ["status", "files"], "properties": {
                "status": {"const": "OK"}, "cursor": STRING, "files": {"type": "array", "items": {
                    "type": "object", "required": ["path", "size"], "properties": {
                        "path": STRING, "size": {"type": "integer"}, "modified": {}}}}}},
        {"status": "OK", "files": [{"path": "/scripts/hello.py", "size": 120,
                                    "modified": "2026-01-01T00:00:00Z"}]})}, [
        query_param("prefix", "Path prefix.", example="/scripts/"),
        query_param("limit", "Page size.", {"type": "integer", "minimum": 1}),
        query_param("cursor", "The `cursor` of the previous page.")])},
    "/api/v1/http-endpoint/list": {"get": _op("listEndpoints", "List or search endpoints", {"200": answer(
        "The matching endpoints.", {"type": "object", "required": ["endpoints"], "properties": {
            "id": STRING, "endpoints": {"type": "array", "items": ref("Endpoint")}}},
        {"endpoints": [ENDPOINT_EXAMPLE]})}, [
        query_param("id", "Only this id."), query_param("path", "Only this path."),
        query_param("handler", "Only this handler script (also `handler_script_path`)."),
        query_param("state", "ENABLED or DISABLED (also `enabled`: true/false)."),
        query_param("offset", "Skip this many.", {"type": "integer", "minimum": 0}),
        query_param("limit", "At most this many.", {"type": "integer", "minimum": 1})])},
    "/api/v1/http-endpoint/{endpoint_id}": {
        "put": _op("createEndpoint", "Create an endpoint", {"201": answer("Created.", ref("EndpointId"),
                                                                           {"id": "hello"})},
                   [ENDPOINT_ID], body({**ENDPOINT_BODY, "required": ["path", "handler_script_path"]},
                                       {"path": "hello", "handler_script_path": "/scripts/hello.py"})),
        "patch": _op("updateEndpoint", "Update an endpoint", {"200": ID}, [ENDPOINT_ID],
                     body(ENDPOINT_BODY, {"state": "DISABLED"})),
        "get": _op("getEndpoint", "Get an endpoint", {"200": answer("The endpoint.", ref("Endpoint"),
                                                                      ENDPOINT_EXAMPLE)}, [ENDPOINT_ID]),
        "delete": _op("deleteEndpoint", "Delete an endpoint", {"200": ID}, [ENDPOINT_ID]),
    },
    "/api/v1/http-endpoint/u/{path}": {method: _trigger(method)
                                       for method in ("get", "post", "put", "patch", "delete")},
}
