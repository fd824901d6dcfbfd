"""Instabase-style API: files (/api/v1/fs/...) and HTTP endpoints (/api/v1/http-endpoint/...)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib import auth, files
from chalicelib.sandbox import HttpCall
from chalicelib.surfaces.http import (ANY_CONTENT, Surface, json_object, json_response, query,
                                      raw_body)
from chalicelib.surfaces.render import instabase_error

# chalicelib.endpoints is imported inside the endpoint routes: only they use it, and every other
# Lambda function's cold start would pay for it.
if TYPE_CHECKING:
    from chalicelib.models.endpoints import Endpoint

surface = Surface("instabase", instabase_error)
blueprint = surface.blueprint

ROOT = "/api/v1/http-endpoint"
TRIGGER_METHODS = ["GET", "PUT", "PATCH", "DELETE", "POST"]
TOKEN_PARAMETER = "access_token"


def _account_id() -> str:
    return auth.bearer(surface.request.headers).account_id


def _endpoint_view(endpoint: Endpoint) -> dict[str, Any]:
    return {"id": endpoint.endpoint_id, "path": endpoint.path,
            "handler_script_path": endpoint.handler_script_path,
            "state": "ENABLED" if endpoint.enabled else "DISABLED"}


def _required_query(name: str) -> str:
    value = query(surface.request).get(name)
    if value is None:
        from chalicelib.errors import Invalid

        raise Invalid(f"the query parameter {name!r} is required", field=name)
    return value


@surface.route("/api/v1/fs/files", methods=["PUT"], content_types=ANY_CONTENT)
def put_file() -> Response:
    account_id = _account_id()
    request = surface.request
    stored = files.put_file(account_id, _required_query("path"), raw_body(request),
                            request.headers.get("content-type"))
    return json_response({"status": "OK", "path": stored.path, "size": stored.size}, 200)


@surface.route("/api/v1/fs/files", methods=["GET"])
def get_file() -> Response:
    data, _ = files.read_file(_account_id(), _required_query("path"))
    try:
        return Response(body=data.decode("utf-8"),
                        headers={"Content-Type": "text/plain; charset=utf-8"})
    except UnicodeDecodeError:
        return Response(body=data, headers={"Content-Type": "application/octet-stream"})


@surface.route("/api/v1/fs/files", methods=["DELETE"])
def delete_file() -> Response:
    path = _required_query("path")
    files.delete_file(_account_id(), path)
    return json_response({"status": "OK", "path": path})


@surface.route("/api/v1/fs/list", methods=["GET"])
def list_files() -> Response:
    account_id = _account_id()
    params = query(surface.request)
    found, cursor = files.list_files(account_id, params.get("prefix") or "/",
                                     _whole(params.get("limit")), params.get("cursor"))
    body: dict[str, Any] = {"status": "OK", "files": [
        {"path": f.path, "size": f.size, "modified": f.modified} for f in found]}
    if cursor:
        body["cursor"] = cursor
    return json_response(body)


def _whole(raw: str | None) -> int | None:
    from chalicelib.errors import Invalid

    if raw in (None, ""):
        return None
    if not raw.isdigit() or int(raw) == 0:
        raise Invalid("limit must be a positive whole number", field="limit")
    return int(raw)


@surface.route(f"{ROOT}/list", methods=["GET"])
def list_endpoints() -> Response:
    from chalicelib import endpoints

    account_id = _account_id()
    params = dict(query(surface.request))
    found = endpoints.search(account_id, params, params.get("offset"), params.get("limit"))
    body: dict[str, Any] = {"endpoints": [_endpoint_view(e) for e in found]}
    if params.get("id") is not None:
        body = {"id": params["id"], **body}
    return json_response(body)


@surface.route(ROOT + "/{endpoint_id}", methods=["PUT"])
def create_endpoint(endpoint_id: str) -> Response:
    from chalicelib import endpoints

    account_id = _account_id()
    created = endpoints.create(account_id, endpoint_id, json_object(surface.request))
    return json_response({"id": created.endpoint_id}, 201)


@surface.route(ROOT + "/{endpoint_id}", methods=["PATCH"])
def update_endpoint(endpoint_id: str) -> Response:
    from chalicelib import endpoints

    account_id = _account_id()
    updated = endpoints.update(account_id, endpoint_id, json_object(surface.request))
    return json_response({"id": updated.endpoint_id})


@surface.route(ROOT + "/{endpoint_id}", methods=["GET"])
def get_endpoint(endpoint_id: str) -> Response:
    from chalicelib import endpoints

    return json_response(_endpoint_view(endpoints.get(_account_id(), endpoint_id)))


@surface.route(ROOT + "/{endpoint_id}", methods=["DELETE"])
def delete_endpoint(endpoint_id: str) -> Response:
    from chalicelib import endpoints

    deleted = endpoints.delete(_account_id(), endpoint_id)
    return json_response({"id": deleted.endpoint_id})


@surface.route(ROOT + "/u/{path}", methods=TRIGGER_METHODS, content_types=ANY_CONTENT)
def trigger(path: str) -> Response:
    from chalicelib import endpoints

    request = surface.request
    params = request.query_params
    headers = dict(request.headers)
    token = params.get(TOKEN_PARAMETER) if params else None
    if token and not any(k.lower() == "authorization" for k in headers):
        headers["authorization"] = f"Bearer {token}"
    account_id = auth.bearer(headers).account_id
    forwarded = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    query_lists = {name: list(params.getlist(name)) for name in params
                   if name != TOKEN_PARAMETER} if params else {}
    answer = endpoints.trigger(account_id, path, HttpCall(
        method=request.method, path=f"{ROOT}/u/{path}", headers=forwarded, query=query_lists,
        body=raw_body(request)))
    answered: dict[str, str | list[str]] = {
        k: v for k, v in answer.headers.items()
        if k.lower() not in ("content-length", "transfer-encoding", "connection")}
    try:
        return Response(body=answer.body.decode("utf-8"), headers=answered,
                        status_code=answer.status)
    except UnicodeDecodeError:
        return _BytesResponse(body=answer.body, headers=answered, status_code=answer.status)


class _BytesResponse(Response):
    """A body that is not UTF-8 text, sent base64-encoded for the gateway to decode, whatever
    its content type: a handler's bytes pass intact (API Gateway decodes them where the API's
    binary media types cover the request's Accept, e.g. */*)."""

    def to_dict(self, binary_types: list[str] | None = None) -> dict[str, Any]:
        import base64

        response = super().to_dict(None)
        response["body"] = base64.b64encode(self.body).decode("ascii")
        response["isBase64Encoded"] = True
        return response
