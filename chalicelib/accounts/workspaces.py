"""Workspaces of an account: create, find by handle or id, list, delete (with their instances)."""
from __future__ import annotations

import re
import uuid
from typing import Any

from chalicelib.errors import Conflict, Forbidden, Invalid, NotFound
from chalicelib.models import accounts as store
from chalicelib.models import packages as package_store
from chalicelib.models.accounts import DEFAULT_WORKSPACE, Workspace
from chalicelib.packages.pages import PageRequest, next_token

HANDLE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# The first path segment of every other route: `/{workspace}/{instance}/{method}` must never be
# read as one of them (tests/api/steamship/test_routing.py keeps this list complete).
RESERVED_HANDLES = ("admin", "api", "console", "docs", "health", "taskport", "v1", "workflows")


def validate_handle(handle: Any, field: str = "handle") -> str:
    """A workspace handle: 1-64 of a-z, 0-9 and '-', starting with a letter or digit."""
    if not isinstance(handle, str) or not HANDLE_PATTERN.match(handle):
        raise Invalid(f"{field} must be 1-64 characters of a-z, 0-9 and '-', starting with a "
                      "letter or digit", field=field)
    if handle in RESERVED_HANDLES:
        raise Invalid(f"{handle!r} is reserved and cannot be a workspace handle", field=field)
    return handle


def find(account_id: str, handle: str) -> Workspace:
    """The account's workspace `handle`; NotFound for unknown or malformed handles alike."""
    if not isinstance(handle, str) or not HANDLE_PATTERN.match(handle) \
            or handle in RESERVED_HANDLES:
        raise NotFound(f"no workspace {handle!r}")
    return store.get_workspace(account_id, handle)


def create(account_id: str, handle: Any, fetch_if_exists: bool) -> Workspace:
    """A new workspace; the existing one when `fetch_if_exists`, else Conflict."""
    handle = validate_handle(handle)
    try:
        return store.create_workspace(account_id, uuid.uuid4().hex, handle)
    except Conflict:
        if not fetch_if_exists:
            raise
    return store.get_workspace(account_id, handle)


def lookup(account_id: str, handle: Any = None, workspace_id: Any = None) -> Workspace:
    """A workspace by `handle` or by `id` (one of them is required)."""
    if handle is not None:
        if not isinstance(handle, str):
            raise Invalid("handle must be a string", field="handle")
        return find(account_id, handle)
    if workspace_id is None:
        raise Invalid("handle or id is required", field="handle")
    if not isinstance(workspace_id, str):
        raise Invalid("id must be a string", field="id")
    start = None
    while True:
        found, start = store.list_workspaces(account_id, 100, start)
        for workspace in found:
            if workspace.workspace_id == workspace_id:
                return workspace
        if start is None:
            raise NotFound(f"no workspace with id {workspace_id!r}", field="id")


def list_page(account_id: str, page: PageRequest) -> tuple[list[Workspace], str | None]:
    """A page of the account's workspaces and the token of the next page."""
    found, last_key = store.list_workspaces(account_id, page.size, page.start)
    return found, next_token(last_key)


def delete(account_id: str, handle: Any = None, workspace_id: Any = None) -> Workspace:
    """Delete a workspace and its package instances; the default workspace stays."""
    workspace = lookup(account_id, handle, workspace_id)
    if workspace.handle == DEFAULT_WORKSPACE:
        raise Forbidden("the default workspace cannot be deleted", field="handle")
    store.delete_workspace(workspace)
    # Instance creation checks the workspace in its transaction, so none can appear after this.
    package_store.delete_workspace_instances(account_id, workspace.workspace_id)
    return workspace
