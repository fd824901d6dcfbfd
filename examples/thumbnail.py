"""An <img> whose src creates an image.thumb task: the browser waits, then follows the redirect to the file.

    python examples/thumbnail.py IMAGE_URL [--size 128] [--port 8001]

writes thumbnail.html and serves it on http://localhost:PORT/ (a whitelisted Referer for the
`dev` account's api key), and saves the same thumbnail through the SDK as thumbnail.jpg. Needs
TASKPORT_URL, TASKPORT_API_KEY and TASKPORT_SECRET_KEY (make dev prints them). The image URL
must be public, or `make dev` started with TASKPORT_EGRESS_ALLOW=127.0.0.0/8 for a local one.
"""
from __future__ import annotations

import argparse
import functools
import html
import http.server
import sys
import urllib.request
from pathlib import Path

import taskport

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Taskport thumbnail</title></head>
<body>
<h1>A thumbnail made by a task</h1>
<!-- The src creates the task (GET /v1/create_file), waits for it and redirects to its output. -->
<img alt="thumbnail" src="{src}">
</body></html>
"""


def thumbnail_page(client: taskport.Client, image_url: str, size: int) -> str:
    """The HTML page whose <img> creates the task with the api key (checked against the Referer)."""
    src = client.tasks.create_file_url("image.thumb", url=image_url, size=size)
    return PAGE.format(src=html.escape(src))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image_url")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--out", default=".", help="where thumbnail.html and thumbnail.jpg go")
    parser.add_argument("--no-serve", action="store_true", help="write the files and stop")
    args = parser.parse_args(argv)
    out = Path(args.out)
    page_client = taskport.Client.from_env()
    page_client.secret_key = None  # the page carries the api key, never the secret
    (out / "thumbnail.html").write_text(thumbnail_page(page_client, args.image_url, args.size))
    # The same task from a server, with the secret key: the SDK answers the file's URL.
    client = taskport.Client.from_env()
    file_url = client.tasks.file("image.thumb", url=args.image_url, size=args.size)
    with urllib.request.urlopen(file_url, timeout=30) as answer:
        (out / "thumbnail.jpg").write_bytes(answer.read())
    print(f"wrote {out / 'thumbnail.html'} and {out / 'thumbnail.jpg'}")
    if args.no_serve:
        return 0
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    with http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler) as server:
        print(f"open http://localhost:{args.port}/thumbnail.html (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
