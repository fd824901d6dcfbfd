"""Built-in tasks run by the worker: hello, image.info, image.thumb(s), and refused or bad URLs."""
from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import pytest

from chalicelib.engine import worker
from tests.api.dragon.conftest import image_bytes, refuse_pillow
# The sandbox's three places (root server, unprivileged server, unprivileged Lambda entry).
from tests.unit.sandbox.test_isolation import (  # noqa: F401
    unprivileged_lambda, unprivileged_server_url, where)


def _run(engine, task_type, params):
    task = engine.create_tasks("acct", "default", [engine.TaskSpec(task_type, params)])[0]
    worker.run_task(task.key)
    return engine.get_task(task.key)


def test_hello_greets(engine):
    assert _run(engine, "hello", {"name": "John"}).result == "Hello John"


def test_image_info_describes_the_image(engine, images):
    task = _run(engine, "image.info", {"url": images.url("/cat.png")})
    assert task.status == "success"
    assert task.result == {"width": 800, "height": 600, "format": "PNG", "mode": "RGB",
                           "bytes": len(image_bytes())}


def test_image_thumb_writes_one_jpeg_of_the_asked_size(engine, images, world):  # S3 keeps files
    images.routes["/grey.gif"] = (200, "image/gif", image_bytes((400, 100), "GIF", "L"))
    task = _run(engine, "image.thumb", {"url": images.url("/grey.gif"), "size": 40})
    assert task.status == "success", task.error
    assert task.files == ["thumb"]
    assert (task.result["width"], task.result["height"], task.result["format"]) == (40, 10, "JPEG")


def test_image_thumbs_writes_small_and_large(engine, images, world):
    images.routes["/alpha.png"] = (200, "image/png", image_bytes((1000, 500), "PNG", "RGBA"))
    task = _run(engine, "image.thumbs", {"url": images.url("/alpha.png")})
    assert task.status == "success", task.error
    assert task.files == ["small", "large"]
    assert task.result["small"]["width"] == 128 and task.result["large"]["width"] == 512


def test_image_that_is_not_an_image_is_an_error_naming_the_url(engine, images):
    url = images.url("/notes.txt")
    task = _run(engine, "image.info", {"url": url})
    assert (task.status, task.error) == ("error", f"File {url!r} is not a valid image file")


def test_image_url_answering_404_or_redirect_is_an_error(engine, images):
    missing = _run(engine, "image.info", {"url": images.url("/missing.png")})
    assert missing.status == "error" and "HTTP 404" in missing.error
    moved = _run(engine, "image.info", {"url": images.url("/moved")})
    assert moved.status == "error"
    assert "redirects are not followed" in moved.error and images.url("/moved") in moved.error


def test_refused_urls_end_in_error_naming_url_and_reason(engine):
    cases = {"http://127.0.0.1/cat.png": "loopback",
             "http://169.254.169.254/latest/meta-data": "link-local",
             "http://10.0.0.7/x.png": "private",
             "file:///etc/passwd": "only http and https"}
    for url, reason in cases.items():
        task = _run(engine, "image.thumb", {"url": url})
        assert task.status == "error", url
        assert task.error.startswith(f"File {url!r} is refused: "), task.error
        assert reason in task.error, task.error


def test_image_over_the_fetch_size_cap_is_an_error_naming_url_and_limit(engine, images, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_FETCH_MAX_BYTES", "1000")
    config.get_settings.cache_clear()
    url = images.url("/cat.png")
    task = _run(engine, "image.info", {"url": url})
    assert (task.status, task.error) == (
        "error", f"File {url!r} could not be fetched: the body is over 1000 bytes")


def test_refusal_that_does_not_name_the_url_is_given_it(engine, monkeypatch):
    from chalicelib import egress

    def refused_at_connect(url, **options):
        raise egress.Refused("connection to cats.example refused: 10.0.0.9 is a private address")

    monkeypatch.setattr(egress, "fetch", refused_at_connect)
    task = _run(engine, "image.info", {"url": "http://cats.example/cat.png"})
    assert task.error == ("File 'http://cats.example/cat.png' could not be fetched: connection to "
                          "cats.example refused: 10.0.0.9 is a private address")


# --- where images are decoded: in the sandbox, never in the worker (issue 12 §4) ---

BIG = (8000, 8000)  # 64 megapixels, the most MAX_PIXELS allows: 256 MB once decoded as RGB


@pytest.fixture(scope="module")
def big_png() -> bytes:
    """A decompression bomb within the pixel rule: ~190 KB of PNG, 256 MB decoded."""
    return image_bytes(BIG, "PNG")


def _settings(monkeypatch, **values):
    from chalicelib import config

    for name, value in values.items():
        monkeypatch.setenv(name, value)
    config.get_settings.cache_clear()


def _stored(key: str, name: str) -> bytes:
    from chalicelib import aws
    from chalicelib.config import get_settings
    from chalicelib.engine import outputs

    return aws.client("s3").get_object(Bucket=get_settings().bucket,
                                       Key=outputs.object_key(key, name))["Body"].read()


def test_image_tasks_never_load_pillow_in_the_worker(engine, images, world, monkeypatch):
    images.routes["/alpha.png"] = (200, "image/png", image_bytes((300, 200), "PNG", "RGBA"))
    hook = refuse_pillow(monkeypatch)
    for task_type, params in [("image.info", {"url": images.url("/cat.jpg")}),
                              ("image.thumb", {"url": images.url("/alpha.png"), "size": 50}),
                              ("image.thumbs", {"url": images.url("/cat.png")})]:
        task = _run(engine, task_type, params)
        assert task.status == "success", (task_type, task.error)
    assert hook.asked == []
    assert not any(name == "PIL" or name.startswith("PIL.") for name in sys.modules)


def test_decompression_bomb_over_the_memory_limit_is_an_error_and_the_worker_keeps_serving(
        engine, images, world, monkeypatch, big_png):
    _settings(monkeypatch, TASKPORT_IMAGE_MEMORY_BYTES=str(128 * 2**20))
    images.routes["/bomb.png"] = (200, "image/png", big_png)
    url = images.url("/bomb.png")
    task = _run(engine, "image.thumbs", {"url": url})
    assert (task.status, task.error) == (
        "error", f"File {url!r} is too large to decode: it needs more than the 128 MB memory limit")
    after = _run(engine, "image.thumb", {"url": images.url("/cat.png")})
    assert after.status == "success", after.error
    assert (after.result["width"], after.result["height"]) == (256, 192)


def test_decoding_past_its_wall_time_is_an_error_naming_the_url(engine, images, monkeypatch, big_png):
    _settings(monkeypatch, TASKPORT_IMAGE_WALL_SECONDS="0.2")
    images.routes["/bomb.png"] = (200, "image/png", big_png)
    url = images.url("/bomb.png")
    task = _run(engine, "image.info", {"url": url})
    assert task.status == "error"
    assert task.error.startswith(f"File {url!r} took too long to decode: "), task.error


def test_image_over_the_pixel_limit_is_refused_before_decoding(engine, images):
    header = image_bytes((8001, 8000), "PNG", "1")  # 1 bit a pixel: small to make
    images.routes["/huge.png"] = (200, "image/png", header)
    url = images.url("/huge.png")
    task = _run(engine, "image.info", {"url": url})
    assert (task.status, task.error) == (
        "error", f"File {url!r} is too large an image: 8001x8000 pixels, the limit is 64000000")


def test_malformed_images_are_errors_naming_the_url(engine, images):
    png, jpeg = image_bytes((400, 300), "PNG"), image_bytes((400, 300), "JPEG")
    images.routes["/cut.png"] = (200, "image/png", png[:len(png) // 2])
    images.routes["/garbled.jpg"] = (200, "image/jpeg", jpeg[:200] + b"\xff" * 64 + jpeg[264:300])
    images.routes["/empty.gif"] = (200, "image/gif", b"GIF89a")
    for path in ("/cut.png", "/garbled.jpg", "/empty.gif"):
        url = images.url(path)
        task = _run(engine, "image.thumb", {"url": url})
        assert (task.status, task.error) == ("error", f"File {url!r} is not a valid image file")


def _thumbnail_before(data: bytes, size: int) -> bytes:
    """The worker's own code before decoding moved to the sandbox, kept as the oracle."""
    from PIL import Image, ImageOps

    opened = Image.open(io.BytesIO(data))
    opened.load()
    image = ImageOps.exif_transpose(opened)
    if image.mode not in ("RGB", "L"):
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    else:
        image = image.copy()
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _rotated_jpeg() -> bytes:
    from PIL import Image

    image = Image.linear_gradient("L").resize((640, 360)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_thumbnails_are_the_same_bytes_as_when_the_worker_made_them(engine, images, world):
    from PIL import Image

    noisy = io.BytesIO()
    Image.effect_noise((700, 500), 60).convert("RGBA").save(noisy, "PNG")
    sources = {"/rotated.jpg": _rotated_jpeg(), "/alpha.png": image_bytes((1000, 500), "PNG", "RGBA"),
               "/noise.png": noisy.getvalue(), "/grey.gif": image_bytes((400, 100), "GIF", "L"),
               "/palette.png": image_bytes((300, 300), "PNG", "P"), "/cat.jpg": image_bytes((300, 1200), "JPEG")}
    for path, data in sources.items():
        images.routes[path] = (200, "image/png", data)
        task = _run(engine, "image.thumbs", {"url": images.url(path)})
        assert task.status == "success", (path, task.error)
        for name, size in (("small", 128), ("large", 512)):
            expected = _thumbnail_before(data, size)
            assert _stored(task.key, name) == expected, (path, name)
            assert task.result[name]["bytes"] == len(expected)
        one = _run(engine, "image.thumb", {"url": images.url(path), "size": 77})
        assert _stored(one.key, "thumb") == _thumbnail_before(data, 77), path
    rotated = _run(engine, "image.info", {"url": images.url("/rotated.jpg")})
    assert rotated.result == {"width": 640, "height": 360, "format": "JPEG", "mode": "RGB",
                              "bytes": len(sources["/rotated.jpg"])}


def test_pixel_limit_is_the_same_in_the_worker_and_the_decoder():
    from chalicelib.builtin_tasks import decode
    from chalicelib.builtin_tasks import images as image_tasks

    assert image_tasks.MAX_PIXELS == decode.MAX_PIXELS


def test_the_decoder_runs_wherever_the_sandbox_runs(where):  # noqa: F811 - the fixture above
    # Pillow imports under the call's own uid (root server), in an unprivileged server, and in
    # the Lambda entry point run unprivileged (on AWS the layer holds Pillow: requirements.txt).
    from chalicelib.builtin_tasks import images as image_tasks

    name, run = where
    source = (image_tasks._decode_source()
              + "\n\ndef probe(data, sizes):\n    return thumbnails(base64.b64decode(data), sizes)\n")
    data = image_bytes((300, 200), "PNG", "RGBA")
    answer = run(source, [base64.b64encode(data).decode("ascii"), {"t": 60}])
    made = answer["images"]["t"]
    assert (made["width"], made["height"]) == (60, 40), name
    assert base64.b64decode(made["jpeg"]) == _thumbnail_before(data, 60), name


def test_the_sandbox_function_gets_the_layer_that_holds_pillow():
    from chalice.package import YAMLTemplateSerializer

    project = Path(__file__).resolve().parents[3]
    requirements = (project / "requirements.txt").read_text().lower().split()
    assert any(line.startswith("pillow==") for line in requirements)  # infra/package.py's layer
    path = project / "infra" / "template.yml"
    template = YAMLTemplateSerializer().load_template(path.read_text(), str(path))
    assert {"Ref": "DependenciesLayer"} in template["Globals"]["Function"]["Layers"]
    # A function's own Layers would replace the global ones, and so drop Pillow.
    assert "Layers" not in template["Resources"]["Sandbox"]["Properties"]


TAKEN_OVER_DECODER = '''
def info(data):
    return {"width": 10, "height": 10, "format": {"nested": ["x"] * 1000}, "mode": "RGB"}

def thumbnails(data, sizes):
    return {"images": {name: {"jpeg": "not base64!", "width": 1, "height": 1, "bytes": 1}
                       for name in sizes}}
'''


def test_a_decoder_answer_out_of_shape_is_an_error_not_a_result(engine, images, monkeypatch):
    from chalicelib.builtin_tasks import images as image_tasks

    # What a child taken over by a crafted image could answer instead of the decoder's facts.
    monkeypatch.setattr(image_tasks, "_decode_source", lambda: TAKEN_OVER_DECODER)
    url = images.url("/cat.png")
    for task_type in ("image.info", "image.thumb"):
        task = _run(engine, task_type, {"url": url})
        assert (task.status, task.error) == (
            "error", f"File {url!r} could not be decoded: the decoder answered something malformed")
