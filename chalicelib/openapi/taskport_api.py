"""Taskport's own API (/taskport/v1/...) and the API description itself (/openapi.json, /docs)."""
from __future__ import annotations

from typing import Any

from chalicelib.openapi.common import NONE, STRING, answer, operation

TAG = "Taskport (/taskport/v1)"
ERROR = "TaskportError"  # shared with the admin API (admin_api.SCHEMAS)

SCHEMAS: dict[str, Any] = {}

PATHS: dict[str, Any] = {
    "/openapi.json": {"get": operation(
        "getOpenApi", "This document (OpenAPI 3.1)", TAG, security=NONE, responses={"200": answer(
            "The OpenAPI document.", {"type": "object", "required": ["openapi", "paths"]},
            {"openapi": "3.1.0", "info": {"title": "Taskport"}, "paths": {}})})},
    "/docs": {"get": operation(
        "getDocs", "This document as a web page", TAG, security=NONE, responses={"200": answer(
            "A self-contained HTML page that renders /openapi.json.", STRING, "<!doctype html>...",
            media="text/html")})},
}
