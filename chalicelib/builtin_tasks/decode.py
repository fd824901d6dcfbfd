"""Decode an image and encode its JPEG thumbnails: the script the image tasks run in the sandbox.

The worker never imports this module: images.py reads its text and sends it to the sandbox as
a function call's script, so Pillow parses attacker-chosen bytes only in a limited child that
holds no credential. Self-contained (Pillow and the standard library only). Each function takes
the image's bytes (the call's raw body) and answers JSON: the facts, or {"failed": "invalid" | "too_large", ...}
for an image refused by rule; the sandbox's own limits (memory, CPU, wall time) stop the rest.
"""
from __future__ import annotations

import base64
import io
import warnings
from typing import Any

MAX_PIXELS = 64_000_000
JPEG_QUALITY = 85


class _Refused(Exception):
    """The bytes are not an image this task reads; `answer` says why, as JSON."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__(answer.get("failed"))
        self.answer = answer


def info(data: bytes) -> dict[str, Any]:
    """Width, height, format and mode of the image."""
    try:
        image = _open(data)
    except _Refused as refused:
        return refused.answer
    return {"width": image.width, "height": image.height, "format": image.format,
            "mode": image.mode}


def thumbnails(data: bytes, sizes: dict[str, int]) -> dict[str, Any]:
    """One JPEG per name, its longest side the size given (never enlarged), as base64."""
    try:
        image = _open(data)
    except _Refused as refused:
        return refused.answer
    made = {}
    for name, size in sizes.items():
        jpeg, shape = _jpeg(image, int(size))
        made[name] = {**shape, "jpeg": base64.b64encode(jpeg).decode("ascii")}
    return {"images": made}


def _open(data: bytes) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise _Refused({"failed": "too_large", "width": width, "height": height,
                                "limit": MAX_PIXELS})
            image.load()
    except _Refused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, SyntaxError, ValueError) as exc:
        raise _Refused({"failed": "invalid"}) from exc
    return image


def _jpeg(image: Any, size: int) -> tuple[bytes, dict[str, int]]:
    from PIL import Image, ImageOps

    # exif_transpose answers a new image (a copy when nothing turns), which thumbnail() may
    # shrink in place; each intermediate is dropped as soon as the next exists, so a 64
    # megapixel image holds at most three full-size copies (RGBA: the copy, RGBA, RGB).
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "L"):
        rgba = image.convert("RGBA")
        del image
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
        del rgba
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY)
    data = out.getvalue()
    return data, {"width": image.width, "height": image.height, "bytes": len(data)}
