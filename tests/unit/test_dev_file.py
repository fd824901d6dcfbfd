"""The dev file's mode: narrowed to 0600 when it is a file, left alone when it is not."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from chalicelib.local.stack import write_dev_file

STACK = cast(Any, SimpleNamespace(url="http://127.0.0.1:1", dev_account={"id": "dev"},
                                  admin_token_generated=False))


def test_an_existing_dev_file_is_narrowed_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    path.write_text("{}")
    path.chmod(0o644)
    write_dev_file(path, STACK)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["url"] == STACK.url


def test_a_dev_file_that_is_no_file_keeps_its_mode(tmp_path: Path) -> None:
    """TASKPORT_DEV_FILE=/dev/null (keep nothing) once made the machine's /dev/null 0600 when
    the stack ran as root: every unprivileged process on it then failed to open /dev/null."""
    path = tmp_path / "pipe"  # a FIFO stands in for a device: fchmod would narrow it alike
    os.mkfifo(path, 0o666)
    path.chmod(0o666)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_dev_file(path, STACK)
        assert json.loads(os.read(reader, 1 << 16))["url"] == STACK.url
    finally:
        os.close(reader)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666
