"""Taskport's Chalice app: registers the surfaces' blueprints and the event handlers, nothing else."""
from chalice import Chalice

from chalicelib.surfaces import admin

app = Chalice(app_name="taskport")
app.register_blueprint(admin.blueprint)
