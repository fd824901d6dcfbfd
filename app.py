"""Taskport's Chalice app: registers the surfaces' blueprints and the event handlers, nothing else."""
from chalice import Chalice

from chalicelib.surfaces import admin
from chalicelib.surfaces.http import render_chalice_errors

app = Chalice(app_name="taskport")
app.register_blueprint(admin.blueprint)
app.register_middleware(render_chalice_errors, "http")
