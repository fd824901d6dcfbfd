"""Visibility: structured logs with request and entity ids, request lines, EMF metrics."""
