"""Every example in examples/ runs against the dev stack."""
from __future__ import annotations

import http.server
import io
import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from taskport import cli
from tests.local.sdk_stack import client_for, sdk_stack  # noqa: F401  (the stack fixture)
from tests.local.test_stack import PROJECT_DIR

EXAMPLES = PROJECT_DIR / "examples"


def _run(script: str, stack: dict[str, Any], *args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **stack["env"], "PYTHONPATH": str(PROJECT_DIR)}
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180)


@pytest.fixture(scope="module")
def image_url() -> Iterator[str]:
    """A PNG served on loopback (the stack's egress guard lets 127.0.0.0/8 through)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (200, 40, 40)).save(buffer, "PNG")
    data = buffer.getvalue()

    class Serve(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cat.png"
    server.shutdown()


def test_thumbnail_example_writes_a_page_whose_img_makes_the_thumbnail(sdk_stack: dict[str, Any],  # noqa: F811
                                                                        image_url: str, tmp_path: Path) -> None:
    done = _run("thumbnail.py", sdk_stack, image_url, "--size", "64", "--out", str(tmp_path), "--no-serve")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "thumbnail.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    page = (tmp_path / "thumbnail.html").read_text()
    src = re.search(r'<img alt="thumbnail" src="([^"]+)"', page).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert "api_key=" in src and "secret" not in src
    # What a browser does: GET the src with the page's Referer, follow the redirect to the file.
    request = urllib.request.Request(src, headers={"Referer": "http://localhost:8001/thumbnail.html"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.read()[:3] == b"\xff\xd8\xff"


def test_webhook_receiver_example_verifies_a_real_delivery(sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    done = _run("webhook_receiver.py", sdk_stack, "--demo", "--port", "0", "--timeout", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified:" in done.stdout and "completed" in done.stdout


def test_webhook_receiver_refuses_a_forged_signature() -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        import queue

        import webhook_receiver
    finally:
        sys.path.remove(str(EXAMPLES))
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    server = webhook_receiver.serve("whsec_" + "QUJD" * 8, 0, events)
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{server.server_address[1]}/hook?event=completed",
                                         data=b'{"id": "x"}', method="POST", headers={
                                             "webhook-id": "msg_1", "webhook-timestamp": "1700000000",
                                             "webhook-signature": "v1,Zm9yZ2Vk"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400 and events.empty()
    finally:
        server.shutdown()


def test_instabase_handler_example_answers_json(sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    client = client_for(sdk_stack)
    client.endpoints.deploy("ex-greet", "ex-greet", (EXAMPLES / "instabase_handler.py").read_text())
    answer = client.endpoints.call("ex-greet", query={"name": "Ada"})
    assert (answer.status, answer.json()) == (200, {"greeting": "Hello Ada", "method": "GET"})
    posted = client.endpoints.call("ex-greet", method="POST", json_body={"name": "Bo"})
    assert posted.json()["greeting"] == "Hello Bo"
    assert client.endpoints.call("ex-greet").status == 400


def test_steamship_package_example_deploys_and_answers(sdk_stack: dict[str, Any],  # noqa: F811
                                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TASKPORT_CONFIG", str(tmp_path / "none.json"))
    runner = CliRunner()
    deployed = runner.invoke(cli.main, ["packages", "deploy", str(EXAMPLES / "steamship_package"), "--handle",
                                        "ex-greeter", "--version", "1.0", "--instance", "ex-greeter"],
                             env=sdk_stack["env"], catch_exceptions=False)
    assert deployed.exit_code == 0, deployed.output
    called = runner.invoke(cli.main, ["invoke", "default/ex-greeter", "greet", "name=Ada", "--json"],
                           env=sdk_stack["env"], catch_exceptions=False)
    assert json.loads(called.output) == {"greeting": "Hello, Ada!"}
    counted = runner.invoke(cli.main, ["invoke", "default/ex-greeter", "count_words", "text=a b c", "--json"],
                            env=sdk_stack["env"], catch_exceptions=False)
    assert json.loads(counted.output) == {"words": 3}


def test_tour_example_drives_all_four_surfaces(sdk_stack: dict[str, Any]) -> None:  # noqa: F811
    done = _run("tour.py", sdk_stack)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "task: Hello Ada" in done.stdout
    assert "endpoint: 200 {'greeting': 'Hello Ada', 'method': 'GET'}" in done.stdout
    assert "workflow task: True -> completed" in done.stdout
    assert "method: {'greeting': 'Hi, Ada!'}" in done.stdout
    assert "background method: {'words': 3}" in done.stdout
