"""End-to-end time of the built-in image tasks, worker side: fetch, decode, encode, file write.

Run: python bench/image_tasks.py [tasks per type, default 20]
Each task is created and run by the worker in this process against moto, the image served on
127.0.0.1; the first task of each type is left out of the figures (the sandbox server starts,
Pillow loads). Time the whole process too (`/usr/bin/time -v`): where decoding runs changes
what the process itself pays for.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                    "AWS_DEFAULT_REGION": "us-east-1", "TASKPORT_ADMIN_TOKEN": "bench-admin",
                    "TASKPORT_EGRESS_ALLOW": "127.0.0.0/8"}.items():
    os.environ.setdefault(name, value)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("TASKPORT_SANDBOX_URL", None)

PHOTO_SIZE = (1600, 1200)


def _photo() -> bytes:
    """A JPEG with detail everywhere (a gradient under noise), so encoding is not trivial."""
    import subprocess

    # Made in a child process: this process must not load Pillow itself.
    script = ("import io, sys\nfrom PIL import Image\n"
              f"size = {PHOTO_SIZE!r}\n"
              "noise = Image.effect_noise(size, 40).convert('RGB')\n"
              "gradient = Image.linear_gradient('L').resize(size).convert('RGB')\n"
              "out = io.BytesIO()\n"
              "Image.blend(noise, gradient, 0.5).save(out, 'JPEG', quality=90)\n"
              "sys.stdout.buffer.write(out.getvalue())\n")
    return subprocess.run([sys.executable, "-c", script], check=True, capture_output=True).stdout


def main(count: int) -> None:
    from moto import mock_aws

    from tests.api.dragon.conftest import ImageServer

    photo = _photo()
    server = ImageServer()
    server.routes["/photo.jpg"] = (200, "image/jpeg", photo)
    server.thread.start()
    url = server.url("/photo.jpg")
    cases: list[tuple[str, dict[str, Any]]] = [("image.info", {"url": url}), ("image.thumb", {"url": url, "size": 256}),
             ("image.thumbs", {"url": url})]
    with mock_aws():
        from chalicelib import composition
        from chalicelib.engine import tasks, worker
        from chalicelib.local.resources import ensure_resources

        ensure_resources()
        composition.install()
        print(f"photo: {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG, {len(photo)} bytes; "
              f"{count} tasks per type, first one left out")
        print(f"{'task':<14}{'p50 ms':>9}{'mean ms':>9}{'max ms':>9}")
        for task_type, params in cases:
            times = []
            for _ in range(count + 1):
                task = tasks.create_tasks("bench", "default", [tasks.TaskSpec(task_type, params)])[0]
                started = time.perf_counter()
                worker.run_task(task.key)
                times.append((time.perf_counter() - started) * 1000)
                done = tasks.get_task(task.key)
                if done.status != "success":
                    raise SystemExit(f"{task_type} ended {done.status}: {done.error}")
            kept = times[1:]
            print(f"{task_type:<14}{statistics.median(kept):9.1f}{statistics.mean(kept):9.1f}"
                  f"{max(kept):9.1f}")
    server.server.shutdown()
    print("Pillow loaded in this (the worker's) process:", "PIL" in sys.modules)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
