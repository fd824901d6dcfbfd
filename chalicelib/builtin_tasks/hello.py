"""`hello` {name} -> "Hello <name>"."""
from __future__ import annotations

from typing import Any

from chalicelib.engine.registry import RunContext
from chalicelib.errors import Invalid


def validate(params: dict[str, Any]) -> dict[str, Any]:
    """`name` is a required string."""
    if "name" not in params:
        raise Invalid("name is missing", field="name")
    if not isinstance(params["name"], str):
        raise Invalid("name must be a string", field="name")
    return params


def run(params: dict[str, Any], ctx: RunContext) -> str:
    """Greet."""
    return f"Hello {params['name']}"

