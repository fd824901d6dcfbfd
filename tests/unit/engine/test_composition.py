"""The composition root: one call installs every task type and hook; importing registers nothing."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]
ALL_TYPES = ["hello", "image.info", "image.thumb", "image.thumbs", "package.build", "package.method",
             "workflow.task"]


def _fresh(code: str) -> object:
    """What `code` prints (JSON) in a fresh interpreter that starts in the project."""
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_worker_entry_alone_knows_every_task_type_and_the_webhook_hook():
    found = _fresh("import json, app; from chalicelib.engine import hooks, registry; "
                   "print(json.dumps([registry.names(), [h.__name__ for h in hooks._hooks]]))")
    assert found == [ALL_TYPES, ["_notify_on_finish"]]


def test_importing_the_domains_registers_nothing_without_the_composition_root():
    found = _fresh("import json; import chalicelib.builtin_tasks, chalicelib.workflows, "
                   "chalicelib.packages.invocation, chalicelib.engine.worker; "
                   "from chalicelib.engine import hooks, registry; "
                   "print(json.dumps([registry.names(), len(hooks._hooks)]))")
    assert found == [[], 0]


def test_install_twice_registers_each_type_and_hook_once():
    from chalicelib import composition
    from chalicelib.engine import hooks, registry

    composition.install()
    composition.install()
    assert [name for name in registry.names() if name in ALL_TYPES] == ALL_TYPES
    assert [h.__name__ for h in hooks._hooks].count("_notify_on_finish") == 1
