"""Taskport's Chalice app: registers the surfaces' blueprints and the event handlers, nothing else."""
from chalice import Chalice

from chalicelib.surfaces import admin, onespace
from chalicelib.surfaces.http import render_chalice_errors
from chalicelib.webhooks import delivery as webhook_delivery

app = Chalice(app_name="taskport")
app.register_blueprint(admin.blueprint)
app.register_blueprint(onespace.blueprint)
app.register_middleware(render_chalice_errors, "http")


@app.on_sqs_message(queue="taskport-webhooks", batch_size=10, name="webhook_sender")
def webhook_sender(event):
    """Deliver one batch of webhook steps at once; crashed steps go back to the queue."""
    return webhook_delivery.handle_batch([record.to_dict() for record in event])
