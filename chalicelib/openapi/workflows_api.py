"""Workflows, their tasks and webhook deliveries (/workflows/...), HTTP Basic."""
from __future__ import annotations

from typing import Any

from chalicelib.openapi.common import (BASIC, STRING, answer, body, errors, header_param, nullable,
                                       operation, path_param, query_param, ref)

TAG = "Workflows (/workflows)"
ERROR = "WorkflowError"
VERSION = header_param("CS-API-Version", "API version date (YYYY-MM-DD); 2014-08-28 or later.", "2014-08-28")
HANDLE = path_param("handle", "The workflow handle.", "review")
TASK_ID = path_param("task_id", "The task id (chosen by the caller).", "order-1")

SCHEMAS: dict[str, Any] = {
    ERROR: {"type": "object", "required": ["code", "message", "data"], "properties": {
        "code": {"type": "string", "description": "A numeric code, as a JSON string."},
        "message": STRING,
        "data": nullable({"type": "object", "additionalProperties": {"type": "string"}})}},
    "Workflow": {"type": "object", "required": ["handle", "name", "input_fields", "webhook_url", "mode"],
                 "properties": {
                     "handle": STRING, "name": STRING, "input_fields": {"type": "array", "items": STRING},
                     "webhook_url": nullable(STRING), "handler_script_path": nullable(STRING),
                     "mode": {"enum": ["automated", "manual"]}, "webhook_enabled": {"type": "boolean"},
                     "webhook_disabled_reason": nullable(STRING), "created_at": nullable(STRING),
                     "updated_at": nullable(STRING),
                     "webhook_secret": {"type": "string", "description": "`whsec_...`: shown on creation "
                                                                         "and rotation only."}}},
    "WorkflowTaskStatus": {"type": "object", "required": ["code", "cancelable", "canceled", "completed"],
                           "properties": {"code": {"enum": ["open", "completed", "canceled"]},
                                          "cancelable": {"type": "boolean"}, "canceled": {"type": "boolean"},
                                          "completed": {"type": "boolean"}}},
    "WorkflowTask": {"type": "object", "required": ["id", "status", "input"], "properties": {
        "id": STRING, "status": ref("WorkflowTaskStatus"), "input": {"type": "object"}, "output": {}}},
    "Delivery": {"type": "object", "required": ["id", "event", "status", "attempts"], "properties": {
        "id": STRING, "webhook_id": STRING, "event": {"enum": ["completed", "canceled"]}, "status": STRING,
        "reason": nullable(STRING), "created_at": nullable(STRING), "next_attempt_at": nullable(STRING),
        "attempts": {"type": "array", "items": {"type": "object", "properties": {
            "at": nullable(STRING), "url": nullable(STRING), "status_code": nullable({"type": "integer"}),
            "error": nullable(STRING), "duration_ms": nullable({"type": "number"})}}}}},
}

FAILURES = errors(ERROR, {400: "Invalid request (see `data`).", 401: "Basic credentials missing or wrong.",
                          403: "The task is canceled or cannot be canceled.", 404: "No such workflow or task.",
                          405: "Method not allowed.", 409: "Conflict.", 413: "Body over the limit.",
                          415: "Unsupported content type.", 500: "Internal error."})
WORKFLOW_EXAMPLE = {"handle": "review", "name": "Review", "input_fields": ["url"],
                    "webhook_url": "https://example.com/hook", "handler_script_path": None, "mode": "manual",
                    "webhook_enabled": True, "webhook_disabled_reason": None,
                    "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TASK_EXAMPLE = {"id": "order-1", "status": {"code": "open", "cancelable": True, "canceled": False,
                                            "completed": False}, "input": {"url": "https://example.com"},
                "output": None}
DELIVERY_EXAMPLE = {"id": "d1", "webhook_id": "msg_1", "event": "completed", "status": "delivered",
                    "reason": None, "created_at": "2026-01-01T00:00:00Z", "next_attempt_at": None,
                    "attempts": [{"at": "2026-01-01T00:00:01Z", "url": "https://example.com/hook",
                                  "status_code": 200, "error": None, "duration_ms": 35}]}


def _op(operation_id: str, summary: str, responses: dict[str, Any], params: list[dict[str, Any]],
        request_body: dict[str, Any] | None = None) -> dict[str, Any]:
    return operation(operation_id, summary, TAG, security=BASIC, parameters=[*params, VERSION],
                     request_body=request_body, responses={**responses, **FAILURES})


WORKFLOW = answer("The workflow.", ref("Workflow"), WORKFLOW_EXAMPLE)
TASK = answer("The task.", ref("WorkflowTask"), TASK_EXAMPLE)
DELIVERIES = answer("Every delivery of the task's webhooks, with their attempts.", {
    "type": "object", "required": ["deliveries"],
    "properties": {"deliveries": {"type": "array", "items": ref("Delivery")}}}, {"deliveries": [DELIVERY_EXAMPLE]})

PATHS: dict[str, Any] = {
    "/workflows": {"get": _op("listWorkflows", "List the account's workflows", {"200": answer(
        "The workflows.", {"type": "object", "required": ["workflows"],
                           "properties": {"workflows": {"type": "array", "items": ref("Workflow")}}},
        {"workflows": [WORKFLOW_EXAMPLE]})}, [])},
    "/workflows/{handle}": {
        "put": _op("putWorkflow", "Create or update a workflow", {
            "200": WORKFLOW, "201": answer("Created; `webhook_secret` is shown this once.", ref("Workflow"),
                                           {**WORKFLOW_EXAMPLE, "webhook_secret": SECRET_EXAMPLE})},
            [HANDLE], body({"type": "object", "required": ["name", "input_fields"], "properties": {
                "name": STRING, "input_fields": {"type": "array", "items": STRING},
                "webhook_url": nullable(STRING), "handler_script_path": nullable(STRING)}},
                {"name": "Review", "input_fields": ["url"], "webhook_url": "https://example.com/hook"})),
        "get": _op("getWorkflow", "Get a workflow", {"200": WORKFLOW}, [HANDLE]),
    },
    "/workflows/{handle}/webhook-secret/rotate": {"post": _op(
        "rotateWebhookSecret", "Issue a new webhook signing secret", {"200": answer(
            "The workflow with its new `webhook_secret`.", ref("Workflow"),
            {**WORKFLOW_EXAMPLE, "webhook_secret": SECRET_EXAMPLE})}, [HANDLE])},
    "/workflows/{handle}/tasks": {"get": _op("listWorkflowTasks", "List a workflow's tasks", {"200": answer(
        "One page of tasks; `cursor` fetches the next (null at the end).", {
            "type": "object", "required": ["tasks", "cursor"], "properties": {
                "tasks": {"type": "array", "items": ref("WorkflowTask")}, "cursor": nullable(STRING)}},
        {"tasks": [TASK_EXAMPLE], "cursor": None})}, [
        HANDLE, query_param("status", "Which tasks.", {"enum": ["open", "completed", "canceled", "all"]},
                            example="open"),
        query_param("limit", "Page size.", {"type": "integer", "minimum": 1}, example=50),
        query_param("cursor", "The `cursor` of the previous page.")])},
    "/workflows/{handle}/tasks/{task_id}": {
        "put": _op("putWorkflowTask", "Create a task (idempotent per id)", {
            "200": answer("It existed already.", ref("WorkflowTask"), TASK_EXAMPLE),
            "201": answer("Created.", ref("WorkflowTask"), TASK_EXAMPLE)},
            [HANDLE, TASK_ID], body({"type": "object", "required": ["input"], "properties": {
                "input": {"type": "object"}}}, {"input": {"url": "https://example.com"}})),
        "get": _op("getWorkflowTask", "Get a task", {"200": TASK}, [HANDLE, TASK_ID]),
        "delete": _op("cancelWorkflowTask", "Cancel a task", {"200": TASK}, [HANDLE, TASK_ID]),
    },
    "/workflows/{handle}/tasks/{task_id}/complete": {"post": _op(
        "completeWorkflowTask", "Complete a task with its output (a person's answer)", {"200": TASK},
        [HANDLE, TASK_ID], body({"type": "object", "required": ["output"], "properties": {
            "output": {"type": "object"}}}, {"output": {"approved": True}}))},
    "/workflows/{handle}/tasks/{task_id}/deliveries": {"get": _op(
        "listDeliveries", "List the webhook deliveries of a task", {"200": DELIVERIES}, [HANDLE, TASK_ID])},
    "/workflows/{handle}/tasks/{task_id}/deliveries/replay": {"post": _op(
        "replayDelivery", "Send the task's last webhook again", {"202": answer(
            "The new delivery, queued.", ref("Delivery"), DELIVERY_EXAMPLE)}, [HANDLE, TASK_ID])},
}
