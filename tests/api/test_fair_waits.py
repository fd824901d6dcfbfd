"""Blocking and streaming requests are capped per caller: one caller cannot hold them all."""
from __future__ import annotations

import json
import threading
import time

from chalicelib import config
from tests.conftest import atomic_aws_calls


def _secret(account):
    return {"Authorization": f"Secret {account['credentials']['secret_key']}",
            "Content-Type": "application/json"}


def test_credential_free_streams_over_a_never_ending_task_are_capped_per_address(
        client, account, other_account, monkeypatch):
    monkeypatch.setenv("TASKPORT_MAX_WAITS_PER_CALLER", "2")
    monkeypatch.setenv("TASKPORT_BLOCK_WAIT_SECONDS", "3")
    config.get_settings.cache_clear()
    # No worker runs: the task stays queued for as long as anyone waits on it.
    created = client.http.post("/v1/create", headers=_secret(account), body=json.dumps(
        {"tasks": {"task_name": "hello", "name": "x"}}))
    key = json.loads(created.body)[0]["key"]
    answers: list[int] = []
    with atomic_aws_calls():
        streams = [threading.Thread(target=lambda: answers.append(
            client.http.get(f"/v1/status_stream?tasks={key}").status_code)) for _ in range(2)]
        for stream in streams:
            stream.start()
        time.sleep(1)
        started = time.monotonic()
        third = client.http.get(f"/v1/status_stream?tasks={key}")
        refused_in = time.monotonic() - started
        blocking = client.http.post("/v1/create", headers=_secret(other_account), body=json.dumps(
            {"tasks": {"task_name": "hello", "name": "y"}, "block": True}))
        for stream in streams:
            stream.join(10)
    assert third.status_code == 429 and refused_in < 1
    assert json.loads(third.body)["status"] == "error"
    assert blocking.status_code == 200  # another account's wait is not refused
    assert answers == [200, 200]
    # Once the streams ended, the address may wait again.
    assert client.http.get(f"/v1/status?tasks={key}&block=true").status_code == 200
