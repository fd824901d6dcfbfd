"""The built-in task types: hello, image.info, image.thumb, image.thumbs."""

from chalicelib.builtin_tasks import hello, images
from chalicelib.engine import registry


def _params(required: list[str], **properties: dict) -> dict:
    """The parameters of a built-in; a misspelling of one of them is refused (registry.register)."""
    return {"type": "object", "required": required, "properties": properties}


URL = {"type": "string", "description": "the image's http(s) URL"}


def install() -> None:
    """Register the built-in task types (called by the composition root)."""
    registry.register("hello", hello.run, hello.validate, files=(), description="Greets `name`.",
                      params_schema=_params(["name"], name={"type": "string"}))
    registry.register("image.info", images.run_info, images.validate_url, files=(),
                      description="Width, height, format, mode and size of an image.",
                      params_schema=_params(["url"], url=URL))
    registry.register("image.thumb", images.run_thumb, images.validate_thumb, files=("thumb",),
                      description="A JPEG thumbnail of an image, `size` pixels on its longer side.",
                      params_schema=_params(["url"], url=URL, size={
                          "type": "integer", "minimum": 1, "maximum": 4096,
                          "default": images.THUMB_SIZE}))
    registry.register("image.thumbs", images.run_thumbs, images.validate_url,
                      files=tuple(images.THUMBS), description="JPEG thumbnails in several sizes.",
                      params_schema=_params(["url"], url=URL))
