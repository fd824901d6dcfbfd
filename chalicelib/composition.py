"""The composition root: the one place that installs every task type and finish hook.

Nothing registers by being imported: app.py calls install() once, as do the tests, so what a
process knows never depends on which modules it happened to import first.
"""
from __future__ import annotations

from chalicelib import builtin_tasks, tasktypes, workflows
from chalicelib.engine import registry
from chalicelib.packages import invocation


def install() -> None:
    """Install the built-in task types, workflow.task with its webhook hook, package.method, and the
    resolver of account-defined task types (looked up after the built-ins).

    Safe to repeat: a registration replaces its earlier self and a hook is added once.
    """
    builtin_tasks.install()
    workflows.install()
    invocation.install()
    registry.add_resolver(tasktypes.resolve)
