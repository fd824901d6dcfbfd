"""The built-in task types; importing this package registers them."""
from chalicelib.builtin_tasks import hello, images  # noqa: F401
