"""One log line (and metric) per API request, and the ids every other line of it carries."""
from __future__ import annotations

import logging
import time
from typing import Any
from collections.abc import Callable

from chalice import Response
from chalice.app import Request

from chalicelib.observability import logs, metrics

log = logging.getLogger("taskport.api")


def _request_id(event: Request) -> str:
    context = event.context or {}
    lambda_context = getattr(event, "lambda_context", None)
    return (context.get("requestId") or getattr(lambda_context, "aws_request_id", None)
            or logs.new_request_id())


def log_requests(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """HTTP middleware: binds request_id, surface and route; logs method, route, status,
    duration and account (bound by auth once the caller is known) when the answer is ready."""
    from chalicelib.surfaces.http import owner_name

    route = (event.context or {}).get("resourcePath", "")
    surface = owner_name(route) or "other"
    started = time.monotonic()
    with logs.bound(request_id=_request_id(event), surface=surface, route=route):
        try:
            response = get_response(event)
        except Exception:
            log.exception("%s %s crashed", event.method, route, extra={"status": 500})
            metrics.api_request(surface, 500, (time.monotonic() - started) * 1000)
            raise
        duration = round((time.monotonic() - started) * 1000, 1)
        status = response.status_code
        # A 5xx here is often the user's (a handler that raised answers 500); the platform's
        # own faults are logged at ERROR with their traceback where they are caught.
        level = logging.WARNING if status >= 500 else logging.INFO
        log.log(level, "%s %s %d in %d ms", event.method, route, status, duration,
                extra={"method": event.method, "status": status, "duration_ms": duration})
        metrics.api_request(surface, status, duration)
    return response


def bind_invocation(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Middleware of the queue, schedule and direct-invoke functions: the Lambda request id."""
    context = getattr(event, "context", None)
    request_id = getattr(context, "aws_request_id", None) or logs.new_request_id()
    with logs.bound(request_id=request_id):
        return get_response(event)
