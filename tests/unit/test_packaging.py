"""pyproject.toml stays in step with requirements*.txt, and builds a `taskport` wheel holding only the SDK."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _pins(name: str) -> set[str]:
    pins = set()
    for line in (PROJECT_DIR / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r"):
            pins.add(line)
    return pins


def _project() -> dict:
    return tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]


def test_dev_extra_matches_requirements_files():
    dev = set(_project()["optional-dependencies"]["dev"])
    assert dev == _pins("requirements.txt") | _pins("requirements-dev.txt")


def test_cli_extra_names_packages_pinned_for_development():
    pinned = {re.split(r"[=<>\[]", pin, maxsplit=1)[0].lower() for pin in _pins("requirements-dev.txt")}
    cli = {re.split(r"[=<>\[]", pin, maxsplit=1)[0].lower() for pin in _project()["optional-dependencies"]["cli"]}
    # click comes with flask (requirements.txt); rich is pinned for development.
    assert cli - pinned <= {"click"}


def test_sdk_depends_on_nothing_chalice_packages():
    assert _project()["dependencies"] == []
    assert _project()["requires-python"] == ">=3.11"


def test_wheel_holds_only_the_taskport_package(tmp_path):
    # Built from a copy: setuptools writes its egg-info beside the sources.
    source = tmp_path / "source"
    shutil.copytree(PROJECT_DIR, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "dist", "build", "*.egg-info", "node_modules"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(source)], check=True, capture_output=True, timeout=120)
    [wheel] = tmp_path.glob("taskport-0.1.0-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"taskport", "taskport-0.1.0.dist-info"}
    entry_points = zipfile.ZipFile(wheel).read("taskport-0.1.0.dist-info/entry_points.txt").decode()
    assert "taskport = taskport.cli:main" in entry_points
