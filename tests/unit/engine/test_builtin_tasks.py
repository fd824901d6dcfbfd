"""Built-in tasks run by the worker: hello, image.info, image.thumb(s), and refused or bad URLs."""
from __future__ import annotations

from chalicelib.engine import worker
from tests.api.dragon.conftest import image_bytes


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
