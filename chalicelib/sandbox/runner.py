"""The sandbox's warm parent as its callers (the sandbox server, the sandbox Lambda) use it.

The code is split by the process that runs it (docs/sandbox.md, "Modules"): parent.py (the
serving process: hand a call to a spare, read its answer, clean up), zygote.py (forks the
spares), spare.py (the child that runs one call), uids.py (a root parent's uid per call).
"""
from __future__ import annotations

from chalicelib.sandbox.parent import (POOL_SIZE, clean_up_later, execute, isolation_mode,
                                       live_workdirs, prepare)

__all__ = ["POOL_SIZE", "clean_up_later", "execute", "isolation_mode", "live_workdirs", "prepare"]
