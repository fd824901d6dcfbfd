"""Foundation figures: cold import cost, package size, DynamoDB calls per authenticated request."""
from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from collections.abc import Callable

PROJECT_DIR = Path(__file__).resolve().parents[1]
IMPORT_RUNS = 15
WARM_REQUESTS = 200
MB = 1024 * 1024

# CPU time of the import in the child: on a shared machine wall time mostly measures the
# neighbours; on Lambda's dedicated vCPU the two are close.
TIMED_IMPORT = ("import time; t = time.process_time(); {statement}; "
                "print(time.process_time() - t)")


def import_seconds(statement: str, bytecode: str | None) -> float:
    """CPU seconds `statement` takes in a fresh interpreter (interpreter start-up left out).

    With `bytecode` (a directory) every module's compiled code is cached there and reused, as
    on a deployment that ships bytecode; without it the project's own modules are compiled on
    every import (site-packages keep the bytecode pip wrote), as on today's Lambda package.
    """
    env = {**os.environ}
    env.pop("PYTHONPYCACHEPREFIX", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = bytecode
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    out = subprocess.run([sys.executable, "-c", TIMED_IMPORT.format(statement=statement)],
                         cwd=PROJECT_DIR, capture_output=True, text=True, check=True,
                         env=env).stdout
    return float(out.strip().splitlines()[-1])


def import_ratio(bytecode: str | None) -> tuple[float, float, float]:
    """Median `import app` and `import chalice, boto3` times (runs interleaved), and their ratio."""
    app_times, base_times = [], []
    import_seconds("import app", bytecode)  # warm the file cache (and the bytecode cache)
    import_seconds("import chalice, boto3", bytecode)
    for _ in range(IMPORT_RUNS):
        app_times.append(import_seconds("import app", bytecode))
        base_times.append(import_seconds("import chalice, boto3", bytecode))
    app, base = statistics.median(app_times), statistics.median(base_times)
    return app, base, app / base


def import_instructions(statement: str, bytecode: str) -> int | None:
    """Instructions `statement` executes in a fresh interpreter, counted by callgrind.

    Unlike seconds, the count does not move with the neighbours' load: the same code, inputs and
    bytecode give the same figure to within about 1 M on every run (string hashes, hence dict
    probes, are randomised per process). None when valgrind is not installed.
    """
    if not shutil.which("valgrind"):
        return None
    env = {**os.environ, "PYTHONPYCACHEPREFIX": bytecode}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           sys.executable, "-c", statement], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, check=True)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if collected is None:
        raise RuntimeError(f"callgrind printed no count: {done.stderr[-500:]}")
    return int(collected.group(1))


# What `import app` pays before any project module: Chalice, and botocore through PynamoDB.
SDK_FLOOR = "import chalice, pynamodb.models"


def instruction_ratio(bytecode: str) -> tuple[int, int, float, int] | None:
    """Instructions of `import app` and of `import chalice, boto3`, their ratio, and those of
    SDK_FLOOR (so the project's own share shows), interpreter start-up left out."""
    for statement in ("import app", "import chalice, boto3", SDK_FLOOR):
        import_seconds(statement, bytecode)  # fill the bytecode cache first
    start = import_instructions("pass", bytecode)
    if start is None:
        return None
    app, base, floor = (int(import_instructions(statement, bytecode) or 0) - start
                        for statement in ("import app", "import chalice, boto3", SDK_FLOOR))
    return app, base, app / base, floor


def package_sizes() -> dict[str, int | None]:
    """Sizes of the built artifacts in dist/ (None when `make package` has not run)."""
    dist = PROJECT_DIR / "dist"
    return {name: (dist / name).stat().st_size if (dist / name).exists() else None
            for name in ("deployment.zip", "layer.zip")}


def dynamodb_calls_per_request() -> dict[str, tuple[int, float]]:
    """For each credential scheme: DynamoDB calls on the first request, and per warm request."""
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "TASKPORT_ADMIN_TOKEN": "bench"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    sys.path.insert(0, str(PROJECT_DIR))
    import base64

    import botocore.client
    from moto import mock_aws

    from chalicelib import accounts, auth, aws
    from chalicelib.local.resources import ensure_resources

    calls: dict[str, int] = {}
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        service = self.meta.service_model.service_name
        calls[service] = calls.get(service, 0) + 1
        return original(self, operation, params)

    figures = {}
    with mock_aws():
        aws.reset()
        ensure_resources()
        created = accounts.create_account("bench", ["app.example.com"])
        secrets, handle = created.secrets, created.account.handle
        basic = base64.b64encode(f"{handle}:{secrets['access_key']}".encode()).decode()
        schemes: dict[str, Callable[[], Any]] = {
            "Bearer": lambda: auth.bearer({"Authorization": f"Bearer {secrets['token']}"}),
            "Basic": lambda: auth.basic({"Authorization": f"Basic {basic}"}),
            "Secret": lambda: auth.secret_or_api_key(
                {"Authorization": f"Secret {secrets['secret_key']}"}, {}),
            "Api-Key + Referer": lambda: auth.secret_or_api_key(
                {"Authorization": f"Api-Key {secrets['api_key']}",
                 "Referer": "https://app.example.com/page"}, {}),
        }
        botocore.client.BaseClient._make_api_call = counting
        try:
            for name, call in schemes.items():
                calls.clear()
                call()
                first = calls.get("dynamodb", 0)
                calls.clear()
                for _ in range(WARM_REQUESTS):
                    call()
                figures[name] = (first, calls.get("dynamodb", 0) / WARM_REQUESTS)
        finally:
            botocore.client.BaseClient._make_api_call = original
    return figures


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as bytecode:
        counted = instruction_ratio(bytecode)
        if counted is None:
            rows.append(("import app / import chalice, boto3, instructions (callgrind)",
                         "valgrind not installed", "<= 1.15"))
        else:
            app, base, ratio, floor = counted
            rows.append(("import app / import chalice, boto3, instructions (callgrind)",
                         f"{ratio:.2f}  ({app / 1e6:.0f} M / {base / 1e6:.0f} M)", "<= 1.15"))
            rows.append(("  of import app: chalice + PynamoDB (botocore) before any project module",
                         f"{floor / 1e6:.0f} M", "-"))
        for label, cache in (("bytecode cached", bytecode), ("project compiled per import", None)):
            app_s, base_s, ratio = import_ratio(cache)
            rows.append((f"import app / import chalice, boto3, {label} (CPU, median of {IMPORT_RUNS})",
                         f"{ratio:.2f}  ({app_s * 1000:.0f} ms / {base_s * 1000:.0f} ms)",
                         "-"))
    for name, size in package_sizes().items():
        shown = f"{size / MB:.2f} MiB" if size is not None else "not built (make package)"
        target = "<= 3 MiB" if name == "deployment.zip" else "(Lambda: <= 250 MB unzipped)"
        rows.append((f"dist/{name}", shown, target))
    for scheme, (first, warm) in dynamodb_calls_per_request().items():
        rows.append((f"DynamoDB calls per {scheme} request, warm (first request: {first})",
                     f"{warm:g}", "0"))
    width = max(len(row[0]) for row in rows)
    value_width = max(len(row[1]) for row in rows)
    print(f"{'figure':{width}}  {'measured':{value_width}}  target")
    for figure, value, target in rows:
        print(f"{figure:{width}}  {value:{value_width}}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
