"""`chalice local` runs the `make dev` stack (emulator, pollers, sandbox), never real AWS by accident."""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# Options of the `chalice` group that take a value (so their value is not the command).
_GROUP_OPTIONS_WITH_VALUE = ("--project-dir",)


def chalice_command(argv: Sequence[str]) -> str | None:
    """The chalice sub-command in `argv` (`local`, `deploy`, ...), or None."""
    args = list(argv[1:])
    while args:
        arg = args.pop(0)
        if arg in _GROUP_OPTIONS_WITH_VALUE:
            args = args[1:]
        elif not arg.startswith("-"):
            return arg
    return None


def local_port(argv: Sequence[str]) -> str:
    """The `--port` given to `chalice local` (8000, Chalice's default, when none)."""
    args = list(argv)
    for index, arg in enumerate(args):
        if arg == "--port" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--port="):
            return arg.split("=", 1)[1]
    return "8000"


def hand_over_chalice_local(argv: Sequence[str]) -> None:
    """Under `chalice local`, replace this process with `python -m chalicelib.local.stack`."""
    if chalice_command(argv) != "local":
        return
    # The stack is what `make dev` runs: Chalice's own local server over the same app, plus the
    # embedded emulator (unless AWS_ENDPOINT_URL names one), the SQS pollers and the sandbox.
    # Chalice's plain server would have none of them and reach for ~/.aws credentials.
    print("chalice local: starting the make dev stack (same routes, plus emulator, pollers and "
          "sandbox; no autoreload)", file=sys.stderr, flush=True)
    env = {**os.environ, "PORT": local_port(argv)}
    env.pop("AWS_CHALICE_CLI_MODE", None)
    os.execve(sys.executable, [sys.executable, "-m", "chalicelib.local.stack"], env)
