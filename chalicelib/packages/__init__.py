"""Steamship-style packages: workspaces, packages, versions, instances, and method invocation.

Package code never runs in this process: it is loaded and called in the sandbox through the
script `runtime_script` builds (runtime.py followed by the package source as a literal).
"""
from __future__ import annotations

import functools
from pathlib import Path


@functools.lru_cache(maxsize=1)
def _runtime_source() -> str:
    return (Path(__file__).resolve().parent / "runtime.py").read_text(encoding="utf-8")


def runtime_script(source: str, filename: str) -> str:
    """The script the sandbox runs for a package: the runtime, then the package's source."""
    return (f"{_runtime_source()}\n_PACKAGE_SOURCE = {source!r}\n"
            f"_PACKAGE_FILENAME = {filename!r}\n")
