"""The OpenAPI 3.1 description of every route, built from one small module per surface."""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from chalicelib.openapi import (admin_api, endpoints_api, packages_api, taskport_api, tasks_api,
                                workflows_api)
from chalicelib.openapi.common import SECURITY_SCHEMES

VERSION = "0.1.0"
SURFACES = (tasks_api, workflows_api, endpoints_api, packages_api, taskport_api, admin_api)
DESCRIPTION = """Four API surfaces over one engine, each wire-compatible with a public API, plus Taskport's own:

* **Tasks** (`/v1`): create tasks, wait for them, stream their statuses, fetch their files.
  `Secret` or `Api-Key` + Referer.
* **Workflows** (`/workflows`): workflows, their tasks and signed webhooks (Standard Webhooks). HTTP Basic.
* **HTTP endpoints and files** (`/api/v1/http-endpoint`, `/api/v1/fs`): handler scripts run in a sandbox. Bearer.
* **Packages and workspaces** (`/api/v1/package`, `/api/v1/workspace`, `/{workspace}/{instance}/{method}`). Bearer.
* **Taskport** (`/taskport/v1`): the account's tasks, runs and task types. Bearer.
* **Admin** (`/admin/v1`): accounts and credentials. The admin token.

Each surface answers errors in its own body (see the `*Error` schemas)."""


@functools.lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    tags = []
    for surface in SURFACES:
        paths.update(surface.PATHS)
        schemas.update(surface.SCHEMAS)
        tags.append({"name": surface.TAG, "description": (surface.__doc__ or "").strip()})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Taskport", "version": VERSION, "description": DESCRIPTION},
        # Relative to where this document is served, so the API Gateway stage prefix is kept.
        "servers": [{"url": ".", "description": "This deployment"}],
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": SECURITY_SCHEMES},
    }


def document() -> dict[str, Any]:
    """The OpenAPI document (built once per process; callers must not change it)."""
    return _document()


@functools.lru_cache(maxsize=1)
def docs_page() -> str:
    """The /docs page: the renderer and the document in one HTML file (nothing loaded from elsewhere)."""
    template = (Path(__file__).with_name("docs.html")).read_text(encoding="utf-8")
    # "</" cannot close the script element that holds the document.
    spec = json.dumps(_document()).replace("</", "<\\/")
    return template.replace("__OPENAPI_DOCUMENT__", spec)
