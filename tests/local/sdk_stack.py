"""A dev stack for the SDK, CLI and examples tests: loopback reachable, fast webhook retries, a dev file."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.local.stack_process import running_stack


@pytest.fixture(scope="module")
def sdk_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`python -m chalicelib.local.stack` with its dev account; yields url, credentials and the env to export."""
    dev_file = tmp_path_factory.mktemp("sdk") / "taskport-dev.json"
    with running_stack(dev_file, TASKPORT_EGRESS_ALLOW="127.0.0.0/8", TASKPORT_WEBHOOK_SCHEDULE="1,1"):
        kept = json.loads(dev_file.read_text())
        credentials = kept["account"]["credentials"]
        exported = {"TASKPORT_URL": kept["url"], **{f"TASKPORT_{k.upper()}": v for k, v in credentials.items()}}
        yield {"url": kept["url"], "credentials": credentials, "env": exported, "dev_file": Path(dev_file)}


def client_for(stack: dict[str, Any]) -> Any:
    """A taskport.Client with the dev account's credentials."""
    from taskport import Client

    creds = stack["credentials"]
    return Client(stack["url"], token=creds["token"], secret_key=creds["secret_key"], api_key=creds["api_key"],
                  access_key=creds["access_key"], client_handle=creds["client_handle"])
