"""All four surfaces with the SDK: a task, an HTTP endpoint, a workflow task, a package method.

    python examples/tour.py

Needs what `make dev` prints: TASKPORT_URL, TASKPORT_TOKEN, TASKPORT_SECRET_KEY,
TASKPORT_CLIENT_HANDLE and TASKPORT_ACCESS_KEY in the environment.
"""
from __future__ import annotations

import sys
import uuid
from pathlib import Path

import taskport

HERE = Path(__file__).resolve().parent


def main() -> int:
    client = taskport.Client.from_env()

    # Tasks (the dragon task API): create, wait, result; then a stream of two.
    print("task:", client.tasks.run("hello", name="Ada"))
    for status in client.tasks.stream([{"task_name": "hello", "name": n} for n in ("Bo", "Cy")]):
        print("  stream:", status.key[:8], status.status, status.result or "")

    # HTTP endpoints (Instabase): store the handler script, serve it, call it.
    endpoint = client.endpoints.deploy("tour-greet", "tour-greet", (HERE / "instabase_handler.py").read_text())
    answer = client.endpoints.call(endpoint.path, query={"name": "Ada"})
    print("endpoint:", answer.status, answer.json())

    # Workflows (OneSpace): a manual workflow, a task for a person, completed by that person.
    client.workflows.put("tour-review", name="Review", input_fields=["url"],
                         webhook_url="https://example.com/taskport-hook")
    task_id = str(uuid.uuid4())
    client.workflows.create_task("tour-review", task_id, {"url": "https://example.com"})
    open_tasks = [t.id for t in client.workflows.tasks("tour-review", status="open")]
    done = client.workflows.complete("tour-review", task_id, {"approved": True})
    print("workflow task:", task_id in open_tasks, "->", done.status)

    # Packages (Steamship): a version from the one-module example, an instance, two calls.
    client.packages.create("tour-greeter", fetch_if_exists=True)
    version = client.packages.create_version("tour-greeter", f"1.0.{uuid.uuid4().hex[:6]}",
                                             (HERE / "steamship_package" / "api.py").read_text())
    client.instances.create("tour-greeter", f"tour-{version.handle.replace('.', '-')}", version=version.handle,
                            config={"greeting": "Hi"})
    instance = f"tour-{version.handle.replace('.', '-')}"
    print("method:", client.invoke("default", instance, "greet", {"name": "Ada"}).value)
    background = client.invoke("default", instance, "count_words", {"text": "one two three"})
    assert background.task is not None
    print("background method:", client.packages.wait(background.task.id, timeout=60))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except taskport.TaskportError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
