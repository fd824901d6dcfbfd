"""The storage layer: the only package that knows table layouts or imports pynamodb."""
