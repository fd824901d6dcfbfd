"""image.info, image.thumb, image.thumbs: fetch an image through the egress guard, describe or shrink it."""
from __future__ import annotations

import io
import warnings
from typing import Any

from chalicelib import egress
from chalicelib.engine.registry import RunContext
from chalicelib.errors import Invalid

THUMB_SIZE = 256
THUMBS = {"small": 128, "large": 512}
MAX_THUMB_SIZE = 4096
MAX_PIXELS = 64_000_000
JPEG_QUALITY = 85


class ImageFailed(Exception):
    """The image could not be fetched or read; the message names the URL."""


def validate_url(params: dict[str, Any]) -> dict[str, Any]:
    """`url` is a required non-empty string (whether it may be fetched is decided when it runs)."""
    if "url" not in params:
        raise Invalid("url is missing", field="url")
    if not isinstance(params["url"], str) or not params["url"]:
        raise Invalid("url must be a non-empty string", field="url")
    return params


def validate_thumb(params: dict[str, Any]) -> dict[str, Any]:
    """`url`, and `size` an integer 1-4096 (a string of digits from a query string is accepted)."""
    validate_url(params)
    size = params.get("size", THUMB_SIZE)
    if isinstance(size, str) and size.isdigit():
        size = int(size)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_THUMB_SIZE:
        raise Invalid(f"size must be an integer from 1 to {MAX_THUMB_SIZE}", field="size")
    return {**params, "size": size}


def _fetch(url: str) -> bytes:
    try:
        answer = egress.fetch(url)
    except (egress.Refused, egress.FetchFailed) as exc:
        # Worded like the seed's "File '<url>' is not a valid image file", naming URL and reason.
        if exc.url is not None:
            raise ImageFailed(f"File {url!r} {exc.reason}") from exc
        raise ImageFailed(f"File {url!r} could not be fetched: {exc.reason}") from exc
    if 300 <= answer.status < 400:
        location = answer.headers.get("location", "")
        raise ImageFailed(f"File {url!r} could not be fetched: it redirects to {location!r} "
                          "and redirects are not followed")
    if answer.status != 200:
        raise ImageFailed(f"File {url!r} could not be fetched: HTTP {answer.status}")
    return answer.body


def _open(url: str, data: bytes) -> Any:
    from PIL import Image, UnidentifiedImageError  # deferred: only image tasks need Pillow

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageFailed(f"File {url!r} is too large an image: {width}x{height} pixels, "
                                  f"the limit is {MAX_PIXELS}")
            image.load()
    except ImageFailed:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, SyntaxError, ValueError) as exc:
        raise ImageFailed(f"File {url!r} is not a valid image file") from exc
    return image


def _jpeg(image: Any, size: int) -> tuple[bytes, dict[str, int]]:
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "L"):
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    else:
        image = image.copy()
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY)
    data = out.getvalue()
    return data, {"width": image.width, "height": image.height, "bytes": len(data)}


def run_info(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Width, height, format, mode and size in bytes of the image at `url`."""
    data = _fetch(params["url"])
    image = _open(params["url"], data)
    return {"width": image.width, "height": image.height, "format": image.format,
            "mode": image.mode, "bytes": len(data)}


def run_thumb(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """One JPEG whose longest side is `size` (default 256; never enlarged), file `thumb`."""
    image = _open(params["url"], _fetch(params["url"]))
    data, shape = _jpeg(image, int(params.get("size", THUMB_SIZE)))
    ctx.write_file("thumb", data, "image/jpeg")
    return {**shape, "format": "JPEG"}


def run_thumbs(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Two JPEGs, `small` (128) and `large` (512)."""
    image = _open(params["url"], _fetch(params["url"]))
    result = {}
    for name, size in THUMBS.items():
        data, shape = _jpeg(image, size)
        ctx.write_file(name, data, "image/jpeg")
        result[name] = {**shape, "format": "JPEG"}
    return result

