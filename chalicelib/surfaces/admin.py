"""Admin API (/admin/v1/...) and /health: accounts and credentials, behind the admin token."""
from __future__ import annotations

from typing import Any

from chalicelib import accounts, auth
from chalicelib.models.accounts import Account
from chalicelib.surfaces.http import Surface, json_object, json_response
from chalicelib.surfaces.render import taskport_error

surface = Surface("admin", taskport_error)
blueprint = surface.blueprint


def _require_admin() -> None:
    auth.require_admin(surface.request.headers)


def _account_view(account: Account) -> dict[str, Any]:
    return {"id": account.account_id, "handle": account.handle,
            "referrers": list(account.referrers), "credential_kinds": list(account.credential_kinds)}


@surface.route("/health", methods=["GET"])
def health() -> Any:
    from chalicelib.local.sandbox_watch import sandbox_health

    sandbox = sandbox_health()
    if sandbox == "down":
        return json_response({"status": "degraded", "sandbox": sandbox}, 503)
    return {"status": "ok", "sandbox": sandbox}


@surface.route("/admin/v1/accounts", methods=["POST"])
def create_account() -> Any:
    _require_admin()
    body = json_object(surface.request)
    created = accounts.create_account(body.get("handle"), body.get("referrers"))
    credentials = {**created.secrets, "client_handle": created.account.handle}
    return json_response({**_account_view(created.account), "credentials": credentials}, 201)


@surface.route("/admin/v1/accounts/{handle}", methods=["GET"])
def get_account(handle: str) -> Any:
    _require_admin()
    return _account_view(accounts.get_account(handle))


@surface.route("/admin/v1/accounts/{handle}/referrers", methods=["PUT"])
def set_referrers(handle: str) -> Any:
    _require_admin()
    body = json_object(surface.request)
    return _account_view(accounts.set_referrers(handle, body.get("referrers")))


@surface.route("/admin/v1/accounts/{handle}/credentials/{kind}/rotate", methods=["POST"])
def rotate_credential(handle: str, kind: str) -> Any:
    _require_admin()
    account, secret = accounts.rotate_credential(handle, kind)
    return {**_account_view(account), "credentials": {kind: secret}}


@surface.route("/admin/v1/accounts/{handle}/credentials/{kind}", methods=["DELETE"])
def revoke_credential(handle: str, kind: str) -> Any:
    _require_admin()
    return _account_view(accounts.revoke_credential(handle, kind))
