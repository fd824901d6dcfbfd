"""The web console (/console) and the routes it adds under /taskport/v1 (workflows, cancel, files)."""
from __future__ import annotations

from typing import Any

from chalicelib.openapi.common import (BEARER, NONE, OBJECT, STRING, answer, body, errors, nullable,
                                       operation, path_param, query_param, ref)
from chalicelib.openapi.workflows_api import DELIVERY_EXAMPLE, SECRET_EXAMPLE, WORKFLOW_EXAMPLE

TAG = "Console (/console)"
ERROR = "TaskportError"  # the native error body (admin_api.SCHEMAS)
HANDLE = path_param("handle", "The workflow handle.", "review")
TASK_ID = path_param("task_id", "The workflow task's GUID.", "6f1c1a52-0d7e-4b5e-9a43-1b2c3d4e5f60")
KEY = path_param("key", "The task key (URL-encoded when it holds ':' or '/').", "PJ64VXRCMXVPFRNUIWW4MENHS4")

SCHEMAS: dict[str, Any] = {
    "ConsoleWorkflowTask": {"type": "object", "required": ["id", "key", "status"], "properties": {
        "id": STRING, "key": STRING,
        "status": {"enum": ["queued", "executing", "success", "error", "canceled"]},
        "input": OBJECT, "output": {}, "error": nullable(STRING),
        "created_at": nullable(STRING), "updated_at": nullable(STRING)}},
}

FAILURES = errors(ERROR, {400: "Invalid request (see `field`).", 401: "Token missing or wrong.",
                          403: "The task is finished: it cannot be completed or canceled.",
                          404: "No such workflow or task (another account's alike).",
                          409: "The task is finished already.", 500: "Internal error."})
TASK_EXAMPLE = {"id": "6f1c1a52-0d7e-4b5e-9a43-1b2c3d4e5f60", "key": "wf:acct:review:6f1c1a52-...",
                "status": "queued", "input": {"url": "https://example.com"}, "output": None,
                "error": None, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
TASK = answer("The workflow task.", ref("ConsoleWorkflowTask"), TASK_EXAMPLE)
WORKFLOW = answer("The workflow.", ref("Workflow"), WORKFLOW_EXAMPLE)


def _op(operation_id: str, summary: str, responses: dict[str, Any], params: list[dict[str, Any]],
        request_body: dict[str, Any] | None = None) -> dict[str, Any]:
    return operation(operation_id, summary, TAG, security=BEARER, parameters=params,
                     request_body=request_body, responses={**responses, **FAILURES})


def _page(media: str, example: str) -> dict[str, Any]:
    return operation(f"getConsole{'Page' if media == 'text/html' else 'Asset'}",
                     "The console page" if media == "text/html" else "A console asset (ES module, CSS)",
                     TAG, security=NONE, responses={"200": answer(
                         "Served with a Content-Security-Policy that forbids inline script.",
                         STRING, example, media=media),
                         "404": answer("No such asset.", ref(ERROR))},
                     parameters=None if media == "text/html" else [
                         path_param("name", "The asset's file name.", "app.js")])


PATHS: dict[str, Any] = {
    "/console": {"get": _page("text/html", "<!doctype html>...")},
    "/console/{name}": {"get": _page("text/javascript", "import ...")},
    "/taskport/v1/tasks/{key}/files": {"get": _op("listTaskFiles", "A task's output files", {
        "200": answer("Each file with a presigned GET URL.", {
            "type": "object", "required": ["files"], "properties": {"files": {"type": "array", "items": {
                "type": "object", "required": ["name", "url"],
                "properties": {"name": STRING, "url": STRING}}}}},
            {"files": [{"name": "small", "url": "https://bucket.s3.amazonaws.com/tasks/K/small?X-Amz-..."}]})},
        [KEY])},
    "/taskport/v1/tasks/{key}/cancel": {"post": _op("cancelTask", "Cancel a queued or executing task", {
        "200": answer("Canceled.", {"type": "object", "required": ["key", "status"], "properties": {
            "key": STRING, "status": {"const": "canceled"}}}, {"key": "PJ64...", "status": "canceled"})},
        [KEY])},
    "/taskport/v1/workflows": {"get": _op("consoleListWorkflows", "List the account's workflows", {
        "200": answer("The workflows.", {"type": "object", "required": ["workflows"], "properties": {
            "workflows": {"type": "array", "items": ref("Workflow")}}}, {"workflows": [WORKFLOW_EXAMPLE]})},
        [])},
    "/taskport/v1/workflows/{handle}": {"get": _op("consoleGetWorkflow", "Get a workflow",
                                                   {"200": WORKFLOW}, [HANDLE])},
    "/taskport/v1/workflows/{handle}/webhook-secret/rotate": {"post": _op(
        "consoleRotateWebhookSecret", "Issue a new webhook signing secret", {"200": answer(
            "The workflow with its new `webhook_secret` (shown this once).", ref("Workflow"),
            {**WORKFLOW_EXAMPLE, "webhook_secret": SECRET_EXAMPLE})}, [HANDLE])},
    "/taskport/v1/workflows/{handle}/tasks": {"get": _op(
        "consoleListWorkflowTasks", "List a workflow's tasks", {"200": answer(
            "One page; `next_cursor` fetches the next (null at the end).", {
                "type": "object", "required": ["tasks", "next_cursor"], "properties": {
                    "tasks": {"type": "array", "items": ref("ConsoleWorkflowTask")},
                    "next_cursor": nullable(STRING)}}, {"tasks": [TASK_EXAMPLE], "next_cursor": None})},
        [HANDLE, query_param("status", "Comma-separated engine states; all when absent.",
                             example="queued,executing,error"),
         query_param("limit", "Page size.", {"type": "integer", "minimum": 1}, example=100),
         query_param("cursor", "The `next_cursor` of the previous page.")])},
    "/taskport/v1/workflows/{handle}/tasks/{task_id}": {"get": _op(
        "consoleGetWorkflowTask", "Get a workflow task (canceled ones too)", {"200": TASK},
        [HANDLE, TASK_ID])},
    "/taskport/v1/workflows/{handle}/tasks/{task_id}/complete": {"post": _op(
        "consoleCompleteWorkflowTask", "Complete a task with its output", {"200": TASK}, [HANDLE, TASK_ID],
        body({"type": "object", "required": ["output"], "properties": {"output": OBJECT}},
             {"output": {"approved": True}}))},
    "/taskport/v1/workflows/{handle}/tasks/{task_id}/cancel": {"post": _op(
        "consoleCancelWorkflowTask", "Cancel a workflow task", {"200": TASK}, [HANDLE, TASK_ID])},
    "/taskport/v1/workflows/{handle}/tasks/{task_id}/deliveries": {"get": _op(
        "consoleListDeliveries", "List a task's webhook deliveries with their attempts", {"200": answer(
            "Every delivery, oldest first.", {"type": "object", "required": ["deliveries"], "properties": {
                "deliveries": {"type": "array", "items": ref("Delivery")}}},
            {"deliveries": [DELIVERY_EXAMPLE]})}, [HANDLE, TASK_ID])},
    "/taskport/v1/workflows/{handle}/tasks/{task_id}/deliveries/replay": {"post": _op(
        "consoleReplayDelivery", "Send the task's webhook again", {"202": answer(
            "The new delivery.", ref("Delivery"), DELIVERY_EXAMPLE)}, [HANDLE, TASK_ID])},
}
