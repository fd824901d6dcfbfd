"""What every surface shares: routes that render domain errors in the surface's own format."""
from __future__ import annotations

import functools
import json
import logging
import math
import re
from typing import Any
from collections.abc import Callable, Mapping

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.config import get_settings
from chalicelib.errors import (MalformedBody, MethodNotAllowed, PayloadTooLarge, TaskportError,
                               UnsupportedMediaType, UpstreamFailed)

log = logging.getLogger("taskport")

ErrorRenderer = Callable[[TaskportError], Response]
ANY_CONTENT = ["application/json", "text/plain", "application/octet-stream",
               "application/x-www-form-urlencoded", "multipart/form-data", "text/html",
               "application/xml", "text/xml", "text/csv", "application/x-ndjson", "*/*"]


# Route pattern -> the surface that owns it, so that answers Chalice makes itself (415, 405)
# are rendered in the owning surface's format too.
_owners: dict[str, Surface] = {}
_CHALICE_ERRORS: dict[int, type[TaskportError]] = {405: MethodNotAllowed, 415: UnsupportedMediaType}


class Surface:
    """A blueprint whose views may raise TaskportError; each is answered by `render_error`."""

    def __init__(self, name: str, render_error: ErrorRenderer) -> None:
        self.name = name
        self.blueprint = Blueprint(f"chalicelib.surfaces.{name}")
        self.render_error = render_error

    @property
    def request(self) -> Request:
        return self.blueprint.current_request

    def route(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a view; domain errors become this surface's error body."""
        def register(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def answer(*args: Any, **kwargs: Any) -> Any:
                try:
                    return view(*args, **kwargs)
                except TaskportError as err:
                    # UpstreamFailed is user code or a remote failing (logged with its run).
                    if err.status_code >= 500 and not isinstance(err, UpstreamFailed):
                        log.exception("%s %s failed", self.name, path)
                    return self.render_error(err)
                except Exception:
                    # The one place an unexpected failure is caught: logged with its traceback,
                    # answered as a 500 in the surface's own format instead of Chalice's.
                    log.exception("%s %s crashed", self.name, path)
                    return self.render_error(TaskportError("internal error"))

            self.blueprint.route(path, **options)(answer)
            _owners[path] = self
            return view

        return register


def owner_name(route: str) -> str | None:
    """The name of the surface that owns a route pattern, if any."""
    owner = _owners.get(route)
    return owner.name if owner else None


def render_chalice_errors(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """HTTP middleware: Chalice's own 405/415 answers, in the owning surface's error format."""
    response = get_response(event)
    error = _CHALICE_ERRORS.get(response.status_code)
    owner = _owners.get((event.context or {}).get("resourcePath", "")) if event else None
    if error is None or owner is None:
        return response
    detail = response.body.get("Message") if isinstance(response.body, dict) else None
    rendered = owner.render_error(error(detail or f"HTTP {response.status_code}"))
    rendered.headers.update({k: v for k, v in (response.headers or {}).items() if k == "Allow"})
    return rendered


def raw_body(request: Request) -> bytes:
    """The request body, refused when over the configured limit."""
    raw = request.raw_body or b""
    body = raw.encode("utf-8") if isinstance(raw, str) else raw
    limit = get_settings().max_body_bytes
    if len(body) > limit:
        raise PayloadTooLarge(f"request body is {len(body)} bytes; the limit is {limit}")
    return body


# Limits of what a JSON body may hold, checked while parsing (see docs/hardening.md): deeper
# nesting than any API here needs would otherwise reach the decoder's recursion limit, longer
# integers Python's int-conversion limit (4,300 digits), and NaN, Infinity or a lone surrogate
# could be stored and then echoed as bytes that are not JSON or not UTF-8.
MAX_JSON_DEPTH = 64
MAX_JSON_INT_DIGITS = 100
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise MalformedBody(f"the request body holds an integer of more than "
                            f"{MAX_JSON_INT_DIGITS} digits")
    return int(text)


def _json_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedBody(f"the request body holds a number out of range: {text[:40]}")
    return value


def _json_constant(name: str) -> Any:
    raise MalformedBody(f"the request body holds {name}, which is not JSON")


def _check_value(value: Any, depth: int, surrogates: bool) -> None:
    if depth > MAX_JSON_DEPTH:
        raise MalformedBody(f"the request body nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if surrogates:
                _check_text(key)
            _check_value(item, depth + 1, surrogates)
    elif isinstance(value, list):
        for item in value:
            _check_value(item, depth + 1, surrogates)
    elif surrogates and isinstance(value, str):
        _check_text(value)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedBody("the request body holds a lone surrogate (\\ud800-\\udfff), "
                            "which is not a character") from exc


def parse_json(text: str) -> Any:
    """Strict JSON: MalformedBody for syntax errors and for values beyond the limits above."""
    try:
        value = json.loads(text, parse_int=_json_int, parse_float=_json_float,
                           parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} "
                            f"column {exc.colno}") from exc
    except RecursionError as exc:
        raise MalformedBody(f"the request body nests deeper than {MAX_JSON_DEPTH} levels") from exc
    # A lone surrogate can only come from a \\u escape: the text itself is valid UTF-8.
    _check_value(value, 1, bool(_SURROGATE_ESCAPE.search(text)))
    return value


def json_body(request: Request, *, required: bool = True) -> Any:
    """The body parsed as strict JSON (see parse_json); MalformedBody when it is not."""
    body = raw_body(request)
    if not body.strip():
        if required:
            raise MalformedBody("the request body is empty; a JSON body is required")
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody("the request body is not UTF-8") from exc
    return parse_json(text)


def json_object(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The body as a JSON object; MalformedBody for any other JSON value."""
    value = json_body(request, required=required)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedBody("the request body must be a JSON object")
    return value


def query(request: Request) -> Mapping[str, str]:
    """The query string as a mapping of first values (never None)."""
    return request.query_params or {}


def query_list(request: Request, name: str) -> list[str]:
    """Every value of a repeated query parameter."""
    params = request.query_params
    if not params or name not in params:
        return []
    return list(params.getlist(name)) if hasattr(params, "getlist") else [params[name]]


def json_response(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer with an explicit status code."""
    return Response(body=json.dumps(body), status_code=status_code,
                    headers={"Content-Type": "application/json", **(headers or {})})
