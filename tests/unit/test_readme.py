"""The README stays true to the code: every setting the code reads is in its Configuration table."""
from __future__ import annotations

import re
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _configuration_table() -> str:
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1]
    return section.split("\n## ", 1)[0]


def test_every_setting_read_by_the_code_is_documented():
    read = set()
    for path in (PROJECT_DIR / "chalicelib").rglob("*.py"):
        read |= set(re.findall(r"\"(TASKPORT_[A-Z_]+)\"", path.read_text()))
    assert read, "no settings found: the pattern no longer matches the code"
    documented = set(re.findall(r"^\| `(TASKPORT_[A-Z_]+)`", _configuration_table(), re.M))
    assert sorted(read - documented) == []
