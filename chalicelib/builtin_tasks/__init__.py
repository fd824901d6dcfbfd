"""The built-in task types: hello, image.info, image.thumb, image.thumbs."""
from chalicelib.builtin_tasks import hello, images
from chalicelib.engine import registry


def install() -> None:
    """Register the built-in task types (called by the composition root)."""
    registry.register("hello", hello.run, hello.validate, files=())
    registry.register("image.info", images.run_info, images.validate_url, files=())
    registry.register("image.thumb", images.run_thumb, images.validate_thumb, files=("thumb",))
    registry.register("image.thumbs", images.run_thumbs, images.validate_url,
                      files=tuple(images.THUMBS))
