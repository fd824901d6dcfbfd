"""Build dist/: the app package, a dependency layer without the AWS SDK, and the merged SAM template.

`chalice package` would bundle requirements.txt with everything it pulls in, botocore included
(pynamodb depends on it): about 17 MB for code that Lambda's runtime already has. So this
script packages a copy of the project whose requirements.txt is empty, and builds the
dependencies separately into dist/layer.zip for the Lambda runtime's platform (Amazon Linux
2023, python3.12), leaving out boto3, botocore and their own dependencies, plus pip (the task
worker runs package builds with it; the managed runtime does not promise one). The wheels those
builds install from go to dist/wheelhouse.zip (a layer at /opt/wheelhouse), for the same platform.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
PYTHON_VERSION = "3.12"  # must match Runtime in infra/template.yml
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
# Shipped with every Lambda Python runtime; a copy in the layer would shadow the runtime's own.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3",
                    "six"}
# What Steamship package builds may install (the Makefile's BUNDLE_WHEELS, for Lambda).
BUNDLE_WHEELS = ("steamship==2.17.34",)
# Lambda functions infra/template.yml wires up, by Chalice handler name.
EXPECTED_HANDLERS = ("task_worker", "webhook_sender", "janitor", "sandbox")


def missing_handlers() -> list[str]:
    """Handler names the template expects that app.py does not register."""
    sys.path.insert(0, str(PROJECT_DIR))
    from app import app

    return [name for name in EXPECTED_HANDLERS if name not in app.handler_map]


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check"],
                   check=True)


def _platform_args() -> list[str]:
    args = ["--python-version", PYTHON_VERSION, "--implementation", "cp", "--only-binary=:all:"]
    for platform in PLATFORMS:
        args += ["--platform", platform]
    return args


def layer_requirements(requirements: Path) -> list[str]:
    """requirements.txt resolved for the Lambda platform, minus what the runtime provides."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        _pip("install", "--quiet", "--dry-run", "--ignore-installed", "--report", str(report),
             "--target", str(Path(tmp) / "target"), *_platform_args(), "-r", str(requirements))
        resolved = json.loads(report.read_text())["install"]
    pins = []
    for item in resolved:
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        if name.lower().replace("_", "-") not in RUNTIME_PROVIDED:
            pins.append(f"{name}=={version}")
    return sorted(pins, key=str.lower)


def build_layer(pins: list[str], build: Path, out: Path) -> None:
    """Install the pins (no dependencies: the list is complete) under python/ and zip them."""
    site = build / "layer" / "python"
    _pip("install", "--quiet", "--no-deps", "--no-compile", "--target", str(site),
         *_platform_args(), *pins)
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted((build / "layer").rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(build / "layer").as_posix())


def build_wheelhouse(build: Path, out: Path) -> list[str]:
    """The bundle wheels for the Lambda platform under wheelhouse/, zipped (a layer's /opt);
    the requirements that have no wheels for it (left out, each with pip's reason)."""
    root = build / "wheelhouse"
    (root / "wheelhouse").mkdir(parents=True)
    missing = []
    for requirement in BUNDLE_WHEELS:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet",
                               "--disable-pip-version-check", "--dest", str(root / "wheelhouse"),
                               *_platform_args(), requirement],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            # Not fatal: the rest of the stack deploys, and a build that requires it fails on
            # AWS with pip's own message. steamship==2.17.34 is one (tiktoken~=0.4.0 has no
            # cp312 wheel): docs/steamship.md.
            reason = (done.stderr or done.stdout).strip().splitlines()
            missing.append(f"{requirement}: {reason[-1] if reason else 'pip failed'}")
    (root / "wheelhouse" / "README").write_text(
        "Wheels that Steamship package builds install from (infra/package.py).\n")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:  # wheels are zips already
        for path in sorted((root / "wheelhouse").iterdir()):
            archive.write(path, path.relative_to(root).as_posix())
    return missing


def stage_project(build: Path) -> Path:
    """A copy of the app for `chalice package`: code and .chalice, an empty requirements.txt."""
    project = build / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "local")
    project.mkdir(parents=True)
    shutil.copy2(PROJECT_DIR / "app.py", project / "app.py")
    shutil.copytree(PROJECT_DIR / "chalicelib", project / "chalicelib", ignore=ignore)
    (project / ".chalice").mkdir()
    for path in (PROJECT_DIR / ".chalice").glob("*.json"):
        shutil.copy2(path, project / ".chalice" / path.name)
    (project / "requirements.txt").write_text("# dependencies ship in dist/layer.zip\n")
    return project


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--merge-template", default=str(PROJECT_DIR / "infra" / "template.yml"))
    parser.add_argument("outdir", nargs="?", default=str(PROJECT_DIR / "dist"))
    args = parser.parse_args()

    missing = missing_handlers()
    if missing:
        print("app.py does not register the Lambda handlers infra/template.yml wires up: "
              + ", ".join(missing), file=sys.stderr)
        return 2
    outdir = Path(args.outdir).resolve()
    build = PROJECT_DIR / "build" / "package"
    shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(outdir, ignore_errors=True)
    build.mkdir(parents=True)

    project = stage_project(build)
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    chalice = Path(sys.executable).parent / "chalice"
    subprocess.run([str(chalice), "package", "--stage", args.stage, "--merge-template",
                    str(Path(args.merge_template).resolve()), str(outdir)],
                   cwd=project, env=env, check=True)
    pins = [*layer_requirements(PROJECT_DIR / "requirements.txt"),
            f"pip=={importlib.metadata.version('pip')}"]
    build_layer(pins, build, outdir / "layer.zip")
    missing = build_wheelhouse(build, outdir / "wheelhouse.zip")
    for name in ("deployment.zip", "layer.zip", "wheelhouse.zip"):
        size = (outdir / name).stat().st_size
        print(f"{outdir / name}: {size / 2**20:.2f} MiB")
    print("layer:", ", ".join(pins))
    for line in missing:
        print(f"WARNING: not in dist/wheelhouse.zip (no wheels for python{PYTHON_VERSION} "
              f"x86_64): {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
