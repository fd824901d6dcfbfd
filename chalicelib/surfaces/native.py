"""Taskport's own API (/taskport/v1/...): the account's tasks and runs, for the console and the CLI."""
from __future__ import annotations

from chalicelib import auth
from chalicelib.auth import Principal
from chalicelib.surfaces.http import Surface
from chalicelib.surfaces.render import taskport_error

surface = Surface("taskport", taskport_error)
blueprint = surface.blueprint

ROOT = "/taskport/v1"


def principal() -> Principal:
    """The caller, from `Authorization: Bearer <account token>`."""
    return auth.bearer(surface.request.headers)
