"""Taskport's Python SDK: one client for every surface and the native API."""
from __future__ import annotations

__version__ = "0.1.0"
