"""Taskport's Chalice app: registers the surfaces' blueprints and the event handlers, nothing else."""
from chalice import Chalice

from chalicelib.sandbox import aws_lambda as sandbox_lambda
from chalicelib.surfaces import admin, instabase
from chalicelib.surfaces.http import render_chalice_errors

app = Chalice(app_name="taskport")
app.register_blueprint(admin.blueprint)
app.register_blueprint(instabase.blueprint)
app.register_middleware(render_chalice_errors, "http")


@app.lambda_function(name="sandbox")
def sandbox(event, context):
    return sandbox_lambda.handle(event)
