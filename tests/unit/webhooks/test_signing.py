"""Standard Webhooks signing with the workflow's whsec_ secret."""
from __future__ import annotations

import datetime as dt

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from chalicelib.webhooks import signing


def test_new_secret_is_whsec_and_unique():
    first, second = signing.new_secret(), signing.new_secret()
    assert first.startswith("whsec_") and second.startswith("whsec_")
    assert first != second


def test_signature_verifies_with_standardwebhooks():
    secret = signing.new_secret()
    body = '{"id":"x","input":{},"output":null}'
    headers = signing.signature_headers([secret], "msg_1", dt.datetime.now(dt.UTC), body)
    assert Webhook(secret).verify(body, headers) == {"id": "x", "input": {}, "output": None}


def test_signature_fails_with_other_secret_or_body():
    secret = signing.new_secret()
    body = '{"id":"x"}'
    headers = signing.signature_headers([secret], "msg_1", dt.datetime.now(dt.UTC), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify('{"id":"y"}', headers)


def test_rotation_signs_with_both_secrets():
    old, new = signing.new_secret(), signing.new_secret()
    body = "{}"
    headers = signing.signature_headers([new, old], "msg_1", dt.datetime.now(dt.UTC), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)
