"""Count the AWS calls botocore makes (moto answers them), as "Service.Operation"."""
from __future__ import annotations

import contextlib
from typing import Any
from collections.abc import Iterator


@contextlib.contextmanager
def count_calls(params: list[Any] | None = None) -> Iterator[list[str]]:
    """Record every API call made inside the block (boto3 and pynamodb both go through here),
    and each call's parameters into `params` if given."""
    from botocore.client import BaseClient

    calls: list[str] = []
    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: Any) -> Any:
        calls.append(f"{self.meta.service_model.service_id}.{operation_name}")
        if params is not None:
            params.append(api_params)
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = recording
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original
