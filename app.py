"""Taskport's Chalice app: registers the surfaces' blueprints and the event handlers, and installs
the task types (chalicelib.composition); nothing else."""
import os
import sys

from chalice import Chalice, Rate

from chalicelib import composition
from chalicelib.observability import logs, requests
from chalicelib.surfaces import admin, console, docs, dragon, instabase, native, onespace, steamship, task_types
from chalicelib.surfaces.http import render_chalice_errors

# The infra template re-points these event sources at the deployed queues.
TASKS_QUEUE = "taskport-tasks"
WEBHOOKS_QUEUE = "taskport-webhooks"

# Set by the chalice CLI, never on Lambda. Only `chalice local` needs the local stack: `chalice
# package` runs on a copy without chalicelib/local/ (infra/package.py).
if os.environ.get("AWS_CHALICE_CLI_MODE") == "true" and "local" in sys.argv[1:]:
    from chalicelib.local.chalice_cli import hand_over_chalice_local

    hand_over_chalice_local(sys.argv)

app = Chalice(app_name="taskport")
# The official Steamship client uploads package zips as multipart; API Gateway must pass the bytes.
app.api.binary_types.append("multipart/form-data")
logs.configure()  # after Chalice(): it sets its logger (every taskport.* one's parent) to ERROR
app.register_blueprint(admin.blueprint)
app.register_blueprint(docs.blueprint)
app.register_blueprint(dragon.blueprint)
app.register_blueprint(instabase.blueprint)
app.register_blueprint(native.blueprint)
app.register_blueprint(task_types.blueprint)
app.register_blueprint(onespace.blueprint)
app.register_blueprint(steamship.blueprint)
app.register_blueprint(console.blueprint)
app.register_middleware(render_chalice_errors, "http")
app.register_middleware(requests.log_requests, "http")
for event_type in ("sqs", "scheduled", "pure_lambda"):
    app.register_middleware(requests.bind_invocation, event_type)
composition.install()


@app.on_sqs_message(queue=TASKS_QUEUE, batch_size=10, name="task_worker")
def task_worker(event):
    """Run the tasks of one SQS batch; report only the messages to retry."""
    from chalicelib.engine import worker  # each event handler imports its own role, as sandbox does

    return worker.handle_batch(record.to_dict() for record in event)


@app.on_sqs_message(queue=WEBHOOKS_QUEUE, batch_size=10, name="webhook_sender")
def webhook_sender(event):
    """Deliver one batch of webhook steps at once; crashed steps go back to the queue."""
    from chalicelib.webhooks import delivery as webhook_delivery

    return webhook_delivery.handle_batch([record.to_dict() for record in event])


@app.schedule(Rate(1, unit=Rate.MINUTES), name="janitor")
def janitor(event):
    """Re-drive tasks whose lease expired."""
    from chalicelib.engine import janitor as engine_janitor

    return engine_janitor.run()


@app.lambda_function(name="sandbox")
def sandbox(event, context):
    """Run one call of user code in a forked, limited child; this role has no permissions."""
    # Imported here: only this function needs the runner (fork, limits, ctypes), and every
    # other function's cold start would pay for it.
    from chalicelib.sandbox import aws_lambda as sandbox_lambda

    return sandbox_lambda.handle(event)
