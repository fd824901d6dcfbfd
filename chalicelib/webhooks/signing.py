"""Standard Webhooks signing: one `whsec_` secret per workflow, `v1,<base64 HMAC-SHA256>`."""
from __future__ import annotations

import base64
import datetime as dt
import secrets

from standardwebhooks import Webhook

SECRET_BYTES = 24


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form `whsec_<base64>`."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signature_headers(signing_secrets: list[str], webhook_id: str, timestamp: dt.datetime,
                      payload: str) -> dict[str, str]:
    """The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers for one attempt.

    During a rotation's grace period the payload is signed with each secret, space-separated,
    as the specification allows, so receivers holding either secret verify it.
    """
    signatures = [Webhook(secret).sign(webhook_id, timestamp, payload) for secret in signing_secrets]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
