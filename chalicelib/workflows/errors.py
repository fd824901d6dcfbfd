"""The workflow domain's own errors (rendered by the OneSpace renderer, surfaces/render.py)."""
from __future__ import annotations

from chalicelib.errors import Forbidden


class TaskCanceled(Forbidden):
    """The workflow task was canceled; it can be neither read nor created again (403)."""


class NotCancelable(Forbidden):
    """The workflow task is completed or canceled already (403)."""


class TaskFinished(Forbidden):
    """The workflow task is completed or canceled already and cannot be completed (403)."""
