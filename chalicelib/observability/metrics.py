"""CloudWatch metrics as EMF lines (aws-lambda-powertools): no API call, CloudWatch reads stdout.

Off unless TASKPORT_METRICS says so (on by default on Lambda): elsewhere nothing reads them.
Namespace `Taskport`; every metric carries the `service` dimension and its own few.
"""
from __future__ import annotations

from typing import Any

from chalicelib.config import get_settings

NAMESPACE = "Taskport"
SERVICE = "taskport"


def emit(name: str, value: float, unit: str = "Count", **dimensions: Any) -> None:
    """One metric value with its dimensions, as one EMF line (when metrics are on)."""
    if not get_settings().metrics:
        return
    # Imported at first use: a fifth of a cold start, paid only where metrics are on.
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name=name, unit=MetricUnit(unit), value=value, namespace=NAMESPACE,
                       default_dimensions={"service": SERVICE}) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=str(dimension))


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def api_request(surface: str, status: int, duration_ms: float) -> None:
    """ApiRequests by surface and status class, and their latency."""
    emit("ApiRequests", 1, surface=surface, status_class=status_class(status))
    emit("ApiLatency", duration_ms, "Milliseconds", surface=surface)


def task_created(task_type: str, count: int = 1) -> None:
    emit("TasksCreated", count, type=task_type)


def task_finished(task_type: str, outcome: str, duration_ms: float) -> None:
    """TasksSucceeded / TasksFailed by type, and TaskDuration."""
    emit("TasksSucceeded" if outcome == "success" else "TasksFailed", 1, type=task_type)
    emit("TaskDuration", duration_ms, "Milliseconds", type=task_type)


def sandbox_call(outcome: str, duration_ms: float) -> None:
    emit("SandboxCalls", 1, outcome=outcome)
    emit("SandboxDuration", duration_ms, "Milliseconds", outcome=outcome)


def webhook_attempt(outcome: str) -> None:
    emit("WebhookAttempts", 1, outcome=outcome)
