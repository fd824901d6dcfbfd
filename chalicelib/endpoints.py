"""HTTP endpoints: create, update, list, delete, and trigger (the handler runs in the sandbox)."""
from __future__ import annotations

import re
from typing import Any

from chalicelib import files, runs, sandbox
from chalicelib.config import get_settings
from chalicelib.errors import Invalid, NotFound
from chalicelib.models import endpoints as store
from chalicelib.models.endpoints import Endpoint

PATH_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
RESERVED_IDS = ("list", "u")
STATES = {"ENABLED": True, "DISABLED": False}


def validate_id(endpoint_id: Any) -> str:
    """An endpoint id: 1-128 of A-Z, a-z, 0-9, '_', '-', '.'; not `list` or `u`."""
    if not isinstance(endpoint_id, str) or not ID_PATTERN.match(endpoint_id):
        raise Invalid("id must be 1-128 characters of A-Z, a-z, 0-9, '_', '-' and '.'", field="id")
    if endpoint_id in RESERVED_IDS:
        raise Invalid(f"{endpoint_id!r} is reserved and cannot be an endpoint id", field="id")
    return endpoint_id


def validate_endpoint_path(path: Any) -> str:
    """An endpoint path: 1-128 of A-Z, a-z, 0-9, '_' and '-'."""
    if not isinstance(path, str) or not path:
        raise Invalid("path must be a non-empty string", field="path")
    if not PATH_PATTERN.match(path):
        raise Invalid("path may only hold the characters [a-z, A-Z, 0-9, _, -]", field="path")
    return path


def create(account_id: str, endpoint_id: str, body: dict[str, Any]) -> Endpoint:
    """A new, enabled endpoint; Conflict when its id or path is taken in the account."""
    endpoint = Endpoint(
        account_id=account_id, endpoint_id=validate_id(endpoint_id),
        path=validate_endpoint_path(body.get("path")),
        handler_script_path=files.validate_path(body.get("handler_script_path"),
                                                "handler_script_path"),
        enabled=_enabled(body.get("enabled", True)))
    if "id" in body and body["id"] != endpoint_id:
        raise Invalid("the id in the body differs from the id in the URL", field="id")
    return store.create_endpoint(endpoint)


def update(account_id: str, endpoint_id: str, body: dict[str, Any]) -> Endpoint:
    """Change path, handler_script_path or enabled; empty strings are refused."""
    if "id" in body and body["id"] != endpoint_id:
        raise Invalid("the id in the body differs from the id in the URL", field="id")
    changes: dict[str, Any] = {}
    if "path" in body:
        changes["path"] = validate_endpoint_path(body["path"])
    if "handler_script_path" in body:
        changes["handler_script_path"] = files.validate_path(body["handler_script_path"],
                                                             "handler_script_path")
    if "enabled" in body:
        changes["enabled"] = _enabled(body["enabled"])
    old = store.get_endpoint(account_id, validate_id(endpoint_id), consistent=True)
    new = old._replace(**changes)
    return old if new == old else store.replace_endpoint(old, new)


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("enabled must be true or false", field="enabled")
    return value


def get(account_id: str, endpoint_id: str) -> Endpoint:
    """The account's endpoint, or NotFound (also for another account's)."""
    return store.get_endpoint(account_id, validate_id(endpoint_id))


def delete(account_id: str, endpoint_id: str) -> Endpoint:
    """Remove the endpoint and free its path."""
    endpoint = store.get_endpoint(account_id, validate_id(endpoint_id), consistent=True)
    store.delete_endpoint(endpoint)
    return endpoint


def search(account_id: str, filters: dict[str, str], offset: Any = None,
           limit: Any = None) -> list[Endpoint]:
    """The account's endpoints matching every given filter, in id order, one page of them.

    Filters: id, path, handler or handler_script_path, state (ENABLED/DISABLED) or enabled.
    """
    wanted: dict[str, Any] = {}
    if filters.get("id") is not None:
        wanted["endpoint_id"] = filters["id"]
    if filters.get("path") is not None:
        wanted["path"] = filters["path"]
    handler = filters.get("handler_script_path", filters.get("handler"))
    if handler is not None:
        wanted["handler_script_path"] = handler
    if filters.get("state") is not None:
        state = filters["state"].upper()
        if state not in STATES:
            raise Invalid("state must be ENABLED or DISABLED", field="state")
        wanted["enabled"] = STATES[state]
    if filters.get("enabled") is not None:
        flag = filters["enabled"].lower()
        if flag not in ("true", "false"):
            raise Invalid("enabled must be true or false", field="enabled")
        if wanted.get("enabled", flag == "true") != (flag == "true"):
            return []
        wanted["enabled"] = flag == "true"
    start = _count(offset, "offset", 0, None)
    page = _count(limit, "limit", get_settings().list_page_size, get_settings().list_page_size)
    found = [e for e in store.list_endpoints(account_id)
             if all(getattr(e, name) == value for name, value in wanted.items())]
    return found[start:start + page]


def _count(raw: Any, field: str, default: int, most: int | None) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"{field} must be a whole number", field=field) from exc
    if value < 0 or (field == "limit" and value == 0):
        raise Invalid(f"{field} must be {'positive' if field == 'limit' else 'zero or more'}",
                      field=field)
    return min(value, most) if most is not None else value


def trigger(account_id: str, path: str, call: sandbox.HttpCall) -> sandbox.HttpAnswer:
    """Run the handler of the account's enabled endpoint at `path` on `call`."""
    endpoint = store.find_by_path(account_id, validate_endpoint_path_or_missing(path))
    if not endpoint.enabled:
        raise NotFound(f"no HTTP endpoint at path {path!r}")
    with runs.recording(runs.ENDPOINT, account_id, http=True,
                        subject_key=f"endpoint:{endpoint.endpoint_id}", endpoint=endpoint.endpoint_id, path=path,
                        script=endpoint.handler_script_path) as run:
        source, _ = files.read_script(account_id, endpoint.handler_script_path)
        answer = sandbox.run_http_handler(source, endpoint.handler_script_path, call)
        run.http_status = answer.status
        return answer


def validate_endpoint_path_or_missing(path: str) -> str:
    """A trigger path that cannot be an endpoint's is answered as a missing endpoint."""
    if not PATH_PATTERN.match(path or ""):
        raise NotFound(f"no HTTP endpoint at path {path!r}")
    return path
