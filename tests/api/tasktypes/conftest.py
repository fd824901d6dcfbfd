"""Fixtures for account-defined task types: the task API's background worker."""
from tests.api.dragon.conftest import running_worker  # noqa: F401  (shared fixture)
