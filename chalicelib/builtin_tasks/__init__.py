"""The built-in task types: hello, image.info, image.thumb, image.thumbs."""
from typing import Any

from chalicelib.builtin_tasks import hello, images
from chalicelib.engine import registry


_URL = {"type": "string", "minLength": 1, "description": "the image to fetch (public http or https URL)"}


def _params(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


def install() -> None:
    """Register the built-in task types (called by the composition root)."""
    registry.register("hello", hello.run, hello.validate, files=(),
                      description="Greets `name`: the result is 'Hello <name>'.",
                      params_schema=_params(["name"], name={"type": "string"}))
    registry.register("image.info", images.run_info, images.validate_url, files=(),
                      description="Fetches an image and answers its format, size and mode.",
                      params_schema=_params(["url"], url=_URL))
    registry.register("image.thumb", images.run_thumb, images.validate_thumb, files=("thumb",),
                      description="Fetches an image and writes a JPEG thumbnail `thumb` of at most `size` px.",
                      params_schema=_params(["url"], url=_URL, size={
                          "type": "integer", "minimum": 1, "maximum": images.MAX_THUMB_SIZE,
                          "default": images.THUMB_SIZE}))
    registry.register("image.thumbs", images.run_thumbs, images.validate_url,
                      files=tuple(images.THUMBS),
                      description="Fetches an image and writes the JPEG thumbnails "
                                  + ", ".join(f"`{n}` ({s} px)" for n, s in images.THUMBS.items()) + ".",
                      params_schema=_params(["url"], url=_URL))
