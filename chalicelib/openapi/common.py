"""Building blocks of the OpenAPI document: parameters, bodies, answers, error bodies, security."""
from __future__ import annotations

from typing import Any

JSON = "application/json"
Schema = dict[str, Any]

# Security requirement lists, one per way a surface accepts credentials.
Security = list[dict[str, list[str]]]
SECRET: Security = [{"Secret": []}, {"ApiKey": [], "Referer": []}, {"SecretParameter": []}]
BASIC: Security = [{"Basic": []}]
BEARER: Security = [{"Bearer": []}]
ADMIN: Security = [{"Admin": []}]
NONE: Security = []

SECURITY_SCHEMES: dict[str, Any] = {
    "Secret": {"type": "apiKey", "in": "header", "name": "Authorization",
               "description": "Task API: `Authorization: Secret <secret_key>` (server side)."},
    "ApiKey": {"type": "apiKey", "in": "header", "name": "Authorization",
               "description": "Task API: `Authorization: Api-Key <api_key>` (browsers), valid together "
                              "with a `Referer` on the account's whitelist."},
    "Referer": {"type": "apiKey", "in": "header", "name": "Referer",
                "description": "The page that calls with an api key; its host (and scheme and port when "
                               "the whitelist entry is an origin) must be on the account's whitelist."},
    "SecretParameter": {"type": "apiKey", "in": "query", "name": "secret",
                        "description": "Task API: `secret` (or `api_key`) in the query string or the JSON "
                                       "body instead of the header."},
    "Basic": {"type": "http", "scheme": "basic",
              "description": "Workflows: HTTP Basic `client_handle:access_key`."},
    "Bearer": {"type": "http", "scheme": "bearer",
               "description": "HTTP endpoints, files, packages, workspaces and /taskport/v1: "
                              "`Authorization: Bearer <token>`."},
    "AccessTokenParameter": {"type": "apiKey", "in": "query", "name": "access_token",
                             "description": "HTTP endpoint calls: the token as `?access_token=`."},
    "Admin": {"type": "http", "scheme": "bearer",
              "description": "Admin API: `Authorization: Bearer <TASKPORT_ADMIN_TOKEN>`."},
}


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def path_param(name: str, description: str, example: str) -> dict[str, Any]:
    """A required path parameter of type string."""
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1}, "example": example}


def query_param(name: str, description: str, schema: Schema | None = None, *, required: bool = False,
                example: Any = None) -> dict[str, Any]:
    """A query parameter."""
    param: dict[str, Any] = {"name": name, "in": "query", "required": required,
                             "description": description, "schema": schema or {"type": "string"}}
    if example is not None:
        param["example"] = example
    return param


def header_param(name: str, description: str, example: str | None = None) -> dict[str, Any]:
    """An optional request header."""
    param: dict[str, Any] = {"name": name, "in": "header", "required": False, "description": description,
                             "schema": {"type": "string"}}
    if example is not None:
        param["example"] = example
    return param


def body(schema: Schema, example: Any, *, required: bool = True,
         media_types: tuple[str, ...] = (JSON,), description: str | None = None) -> dict[str, Any]:
    """A request body with its example."""
    request: dict[str, Any] = {"required": required, "content": {
        media: {"schema": schema, "example": example} for media in media_types}}
    if description:
        request["description"] = description
    return request


def answer(description: str, schema: Schema | None = None, example: Any = None, *, media: str = JSON,
           headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """One response: description, body schema and example."""
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        content: dict[str, Any] = {"schema": schema}
        if example is not None:
            content["example"] = example
        response["content"] = {media: content}
    if headers:
        response["headers"] = headers
    return response


def errors(schema_name: str, statuses: dict[int, str]) -> dict[str, Any]:
    """Error answers, all in the surface's own error body."""
    return {str(status): answer(description, ref(schema_name)) for status, description in statuses.items()}


def operation(operation_id: str, summary: str, tag: str, *, security: list[dict[str, list[str]]],
              responses: dict[str, Any], parameters: list[dict[str, Any]] | None = None,
              request_body: dict[str, Any] | None = None, description: str | None = None) -> dict[str, Any]:
    """One operation of a path."""
    op: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": [tag],
                          "security": security, "responses": responses}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if request_body:
        op["requestBody"] = request_body
    return op


def nullable(schema: Schema) -> Schema:
    """`schema` or null (OpenAPI 3.1 spells it as a JSON Schema union)."""
    return {"anyOf": [schema, {"type": "null"}]}


STRING: Schema = {"type": "string"}
ANY: Schema = {}
OBJECT: Schema = {"type": "object"}
