"""Admin API (/admin/v1/...) and /health."""
from __future__ import annotations

from typing import Any

from chalicelib.openapi.common import (ADMIN, NONE, STRING, answer, body, errors, operation, path_param,
                                       ref)

TAG = "Admin (/admin/v1)"
ERROR = "TaskportError"
KINDS = ["token", "secret_key", "api_key", "access_key"]

SCHEMAS: dict[str, Any] = {
    ERROR: {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["type", "message"],
        "properties": {"type": STRING, "message": STRING, "field": STRING}}}},
    "Account": {"type": "object", "required": ["id", "handle", "referrers", "credential_kinds"], "properties": {
        "id": STRING, "handle": STRING, "referrers": {"type": "array", "items": STRING},
        "credential_kinds": {"type": "array", "items": {"enum": KINDS}},
        "credentials": {"type": "object", "additionalProperties": STRING,
                        "description": "The secrets, shown this once."}}},
}
FAILURES = errors(ERROR, {400: "Invalid request.", 401: "The admin token is missing or wrong.",
                          404: "No such account.", 405: "Method not allowed.", 409: "The handle is taken.",
                          413: "Body over the limit.", 415: "Unsupported content type.",
                          500: "Internal error (also: TASKPORT_ADMIN_TOKEN is not set)."})
HANDLE = path_param("handle", "The account handle.", "acme")
KIND = {**path_param("kind", "The credential kind.", "token"), "schema": {"enum": KINDS}}
ACCOUNT_EXAMPLE = {"id": "4c1d9f3e2a1b0c9d8e7f8f0c5e0d6a6b", "handle": "acme", "referrers": ["app.example.com"],
                   "credential_kinds": KINDS}
ACCOUNT = answer("The account (no secrets).", ref("Account"), ACCOUNT_EXAMPLE)


def _op(operation_id: str, summary: str, responses: dict[str, Any], params: list[dict[str, Any]] | None = None,
        request_body: dict[str, Any] | None = None) -> dict[str, Any]:
    return operation(operation_id, summary, TAG, security=ADMIN, parameters=params, request_body=request_body,
                     responses={**responses, **FAILURES})


PATHS: dict[str, Any] = {
    "/health": {"get": operation("health", "Liveness", TAG, security=NONE, responses={"200": answer(
        "Serving.", {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
        {"status": "ok"})})},
    "/admin/v1/accounts": {"post": _op("createAccount", "Create an account with one credential of each kind", {
        "201": answer("Created; `credentials` holds the secrets, shown this once.", ref("Account"), {
            **ACCOUNT_EXAMPLE, "credentials": {"token": "tpt_...", "secret_key": "tps_...", "api_key": "tpa_...",
                                               "client_handle": "acme", "access_key": "tpk_..."}})},
        request_body=body({"type": "object", "required": ["handle"], "properties": {
            "handle": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,62}$"},
            "referrers": {"type": "array", "items": STRING}}}, {"handle": "acme", "referrers": ["app.example.com"]}))},
    "/admin/v1/accounts/{handle}": {"get": _op("getAccount", "Get an account", {"200": ACCOUNT}, [HANDLE])},
    "/admin/v1/accounts/{handle}/referrers": {"put": _op(
        "setReferrers", "Replace the Referer whitelist", {"200": ACCOUNT}, [HANDLE],
        body({"type": "object", "required": ["referrers"], "properties": {
            "referrers": {"type": "array", "items": STRING}}}, {"referrers": ["https://app.example.com"]}))},
    "/admin/v1/accounts/{handle}/credentials/{kind}/rotate": {"post": _op(
        "rotateCredential", "Issue a new secret of a kind; the old one stops working", {"200": answer(
            "The account and its new secret.", ref("Account"), {**ACCOUNT_EXAMPLE, "credentials": {
                "token": "tpt_..."}})}, [HANDLE, KIND])},
    "/admin/v1/accounts/{handle}/credentials/{kind}": {"delete": _op(
        "revokeCredential", "Revoke a credential without replacement", {"200": ACCOUNT}, [HANDLE, KIND])},
}
