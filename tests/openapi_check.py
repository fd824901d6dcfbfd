"""Checks an API answer against the OpenAPI document's schema for its route, method and status."""
from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from chalicelib.openapi import document


def response_schema(route: str, method: str, status: int, media: str = "application/json") -> dict[str, Any]:
    """The schema the document gives for this answer; AssertionError when it documents none."""
    spec = document()
    operation = spec["paths"].get(route, {}).get(method.lower())
    assert operation is not None, f"{method} {route} is not in the OpenAPI document"
    response = operation["responses"].get(str(status))
    assert response is not None, f"{method} {route} does not document status {status}"
    content = response.get("content") or {}
    assert media in content, f"{method} {route} {status} documents {sorted(content)}, not {media}"
    return content[media]["schema"]


def assert_answer_matches(route: str, method: str, answer: Any) -> Any:
    """`answer` (a chalice.test or urllib-style response) fits the document; returns its parsed body."""
    status = getattr(answer, "status_code", None) or getattr(answer, "status", None)
    headers = {k.lower(): v for k, v in dict(answer.headers).items()}
    media = (headers.get("content-type") or "application/json").split(";")[0].strip()
    schema = response_schema(route, method, int(status or 0), media)
    raw = answer.body if hasattr(answer, "body") else answer.read()
    value = json.loads(raw) if media == "application/json" else (
        raw.decode() if isinstance(raw, bytes) else raw)
    validator = Draft202012Validator({**schema, "components": document()["components"]})
    problems = sorted(validator.iter_errors(value), key=lambda error: list(error.absolute_path))
    assert not problems, f"{method} {route} {status}: " + "; ".join(
        f"{'/'.join(map(str, p.absolute_path)) or '(body)'}: {p.message}" for p in problems[:5])
    return value
