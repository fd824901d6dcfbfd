"""Steamship packages: build time of a one-requirement package, warm method-call latency of a
bundle beside a one-module `source` package, and AWS calls per warm method call.

Run: python bench/steamship_package.py [calls, default 20]
In process against moto, with the private local sandbox server (as the tests use it); the
wheelhouse must be filled (`make` does it). Baseline: before bundles a Steamship zip could not
be deployed at all, and a warm `source` call made 2 reads (instance, source).
"""
from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                    "AWS_DEFAULT_REGION": "us-east-1", "TASKPORT_ADMIN_TOKEN": "bench-admin"}.items():
    os.environ.setdefault(name, value)
os.environ.pop("AWS_ENDPOINT_URL", None)

from tests.unit.engine.calls import count_calls  # noqa: E402

API = '''from steamship.invocable import PackageService, post


class Greeter(PackageService):
    @post("greet")
    def greet(self, name: str = "World") -> str:
        return f"Hello, {name}!"
'''
SOURCE = '''def greet(name="World"):
    return f"Hello, {name}!"
'''
TARGET_CALLS = 2  # reads: the workspace and the instance; the bundle is never fetched warm
READS = {"GetItem", "Query", "BatchGetItem", "GetObject", "HeadObject"}


def ship_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("api.py", API)
        archive.writestr("steamship.json", json.dumps({"type": "package", "configTemplate": {}}))
        archive.writestr("requirements.txt", "steamship==2.17.34\n")
    return out.getvalue()


def multipart(fields: dict[str, str], file: bytes) -> tuple[bytes, str]:
    boundary = "benchboundary7d1f"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="package.zip"\r\nContent-Type: application/zip\r\n\r\n'.encode()
                 + file + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), \
        f"multipart/form-data; boundary={boundary}"


def main(calls: int) -> None:
    from chalice.test import Client
    from moto import mock_aws

    with mock_aws():
        from chalicelib.local.resources import ensure_resources

        ensure_resources()
        from app import app
        from chalicelib.engine import worker

        with Client(app) as client:
            admin = {"Authorization": "Bearer bench-admin", "Content-Type": "application/json"}
            created = json.loads(client.http.post("/admin/v1/accounts", headers=admin,
                                                  body=json.dumps({"handle": "bench"})).body)
            bearer = {"Authorization": f"Bearer {created['credentials']['token']}",
                      "Content-Type": "application/json"}

            def post(route: str, body: dict) -> dict:
                response = client.http.post(route, headers=bearer, body=json.dumps(body))
                assert response.status_code == 200, response.body
                return json.loads(response.body)

            package = post("/api/v1/package/create", {"handle": "zipped"})["data"]["package"]
            post("/api/v1/package/create", {"handle": "plain"})
            post("/api/v1/package/version/create",
                 {"packageHandle": "plain", "handle": "1", "source": SOURCE})
            body, content_type = multipart({"packageId": package["id"], "handle": "1"},
                                           ship_zip())
            started = time.perf_counter()
            answer = json.loads(client.http.post(
                "/api/v1/package/version/create", body=body,
                headers={**bearer, "Content-Type": content_type}).body)
            task = worker.run_task(answer["status"]["taskId"])
            build_seconds = time.perf_counter() - started
            assert task is not None and task.status == "success", task
            for handle in ("zipped", "plain"):
                post("/api/v1/package/instance/create", {"packageHandle": handle, "handle": handle})

            rows = []
            for handle in ("zipped", "plain"):
                path = f"/default/{handle}/greet"
                cold = time.perf_counter()
                assert post(path, {"name": "x"})["data"] == "Hello, x!"
                cold = time.perf_counter() - cold
                samples = []
                for _ in range(calls):
                    began = time.perf_counter()
                    post(path, {"name": "x"})
                    samples.append(time.perf_counter() - began)
                with count_calls() as made:
                    post(path, {"name": "x"})
                rows.append((handle, cold, statistics.median(samples), made))

    print(f"{'figure':48} {'value':>10}  target / baseline")
    print(f"{'build of a one-requirement package (steamship)':48} {build_seconds:9.2f}s  "
          "(no baseline: zips were refused with 415)")
    for handle, cold, p50, made in rows:
        kind = "Steamship bundle" if handle == "zipped" else "one-module source"
        print(f"{'first call, ' + kind:48} {cold * 1000:8.0f}ms")
        print(f"{'warm call p50, ' + kind:48} {p50 * 1000:8.0f}ms  ({calls} calls)")
        summary = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in Counter(made).items())
        reads = [op for op in made if op.split(".")[-1] in READS]
        print(f"{'AWS calls per warm call, ' + kind:48} {len(made):10d}  {summary}")
        print(f"{'  of them reads, ' + kind:48} {len(reads):10d}  target <= {TARGET_CALLS} "
              "(baseline 2); the rest is the call's run record")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
