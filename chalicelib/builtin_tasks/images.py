"""image.info, image.thumb, image.thumbs: fetch an image here, describe or shrink it in the sandbox."""
from __future__ import annotations

import base64
import binascii
import functools
from pathlib import Path
from typing import Any

from chalicelib import egress
from chalicelib.engine.registry import RunContext
from chalicelib.errors import Invalid

THUMB_SIZE = 256
THUMBS = {"small": 128, "large": 512}
MAX_THUMB_SIZE = 4096
MAX_PIXELS = 64_000_000  # decode.py refuses more; kept in step by a test


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


DECODE_SCRIPT = Path(__file__).with_name("decode.py")
# The script's name in tracebacks and run reports; the sandbox shows frames of this file only.
DECODE_FILENAME = "taskport/builtin_tasks/decode.py"


@functools.cache
def _decode_source() -> str:
    return DECODE_SCRIPT.read_text(encoding="utf-8")


def _decode(url: str, data: bytes, function: str, args: list[Any], ctx: RunContext) -> dict[str, Any]:
    """`decode.<function>(data, *args)`, run in the sandbox under the image limits."""
    from chalicelib import sandbox  # deferred: only image tasks and scripts need it

    settings = ctx.settings
    remaining = ctx.remaining_seconds()
    wall = settings.image_wall_seconds
    if remaining is not None:
        wall = max(min(wall, remaining - 1.0), 0.1)
    limits = sandbox.Limits(wall_seconds=wall, cpu_seconds=wall,
                            memory_bytes=settings.image_memory_bytes)
    try:
        # The image as the call's raw body (an image over the sandbox Lambda's invoke size goes
        # by S3 there: sandbox/staging.py).
        answer = sandbox.run_function(_decode_source(), DECODE_FILENAME, function, args, {},
                                      limits, body=data)
    except sandbox.ScriptError as exc:
        if exc.error_type != "MemoryError":
            raise  # decode.py itself failed: a platform fault, not the image's
        raise ImageFailed(f"File {url!r} is too large to decode: it needs more than the "
                          f"{settings.image_memory_bytes // 2**20} MB memory limit") from exc
    except sandbox.Timeout as exc:
        raise ImageFailed(f"File {url!r} took too long to decode: {exc.message}") from exc
    except sandbox.Crashed as exc:
        raise ImageFailed(f"File {url!r} could not be decoded: {exc.message}") from exc
    if not isinstance(answer, dict):
        raise _malformed(url)
    if answer.get("failed") == "too_large":
        raise ImageFailed(f"File {url!r} is too large an image: {answer.get('width')}x"
                          f"{answer.get('height')} pixels, the limit is {MAX_PIXELS}")
    if answer.get("failed") is not None:
        raise ImageFailed(f"File {url!r} is not a valid image file")
    return answer


def _thumbnails(url: str, data: bytes, sizes: dict[str, int],
                ctx: RunContext) -> dict[str, tuple[bytes, dict[str, Any]]]:
    """name -> (JPEG, {width, height, bytes}) for each size, made in the sandbox."""
    made = _decode(url, data, "thumbnails", [sizes], ctx).get("images")
    if not isinstance(made, dict) or set(made) != set(sizes):
        raise _malformed(url)
    out = {}
    for name, entry in made.items():
        try:
            jpeg = base64.b64decode(entry["jpeg"], validate=True)
            shape = {key: _count(entry[key]) for key in ("width", "height", "bytes")}
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise _malformed(url) from exc
        out[name] = (jpeg, shape)
    return out


def _facts(url: str, answer: dict[str, Any]) -> dict[str, Any]:
    """What image.info answers, from the decoder's answer, each value of its expected type."""
    try:
        facts = {"width": _count(answer["width"]), "height": _count(answer["height"]),
                 "format": answer["format"], "mode": answer["mode"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed(url) from exc
    if not (facts["format"] is None or isinstance(facts["format"], str)) \
            or not isinstance(facts["mode"], str) or len(f"{facts['format']}{facts['mode']}") > 100:
        raise _malformed(url)
    return facts


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not a count: {value!r}")
    return value


def _malformed(url: str) -> ImageFailed:
    # The decoder parses hostile bytes: a child taken over by them may answer anything, so its
    # answer is checked here, out of its reach, like user code's.
    return ImageFailed(f"File {url!r} could not be decoded: the decoder answered something "
                       "malformed")


def run_info(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Width, height, format, mode and size in bytes of the image at `url`."""
    data = _fetch(params["url"])
    facts = _facts(params["url"], _decode(params["url"], data, "info", [], ctx))
    return {**facts, "bytes": len(data)}


def run_thumb(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """One JPEG whose longest side is `size` (default 256; never enlarged), file `thumb`."""
    size = int(params.get("size", THUMB_SIZE))
    made = _thumbnails(params["url"], _fetch(params["url"]), {"thumb": size}, ctx)
    data, shape = made["thumb"]
    ctx.write_file("thumb", data, "image/jpeg")
    return {**shape, "format": "JPEG"}


def run_thumbs(params: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Two JPEGs, `small` (128) and `large` (512)."""
    made = _thumbnails(params["url"], _fetch(params["url"]), dict(THUMBS), ctx)
    result = {}
    for name, (data, shape) in made.items():
        ctx.write_file(name, data, "image/jpeg")
        result[name] = {**shape, "format": "JPEG"}
    return result

