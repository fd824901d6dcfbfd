"""The console's static assets: shipped in the deployment package, no inline or remote code."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]
ASSETS = PROJECT_DIR / "chalicelib" / "console"


def _package_module() -> Any:
    spec = importlib.util.spec_from_file_location("taskport_package",
                                                  PROJECT_DIR / "infra" / "package.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_console_assets_staged_for_packaging(tmp_path: Path) -> None:
    project = _package_module().stage_project(tmp_path)
    shipped = {p.name for p in (project / "chalicelib" / "console").iterdir()}
    assert shipped == {p.name for p in ASSETS.iterdir()}
    assert {"index.html", "app.js", "style.css"} <= shipped


def test_console_html_has_no_inline_script_or_remote_asset() -> None:
    html = (ASSETS / "index.html").read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="console/' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handlers
    assert "http://" not in html and "https://" not in html and 'href="/' not in html


def test_console_modules_import_only_relative_modules() -> None:
    for path in ASSETS.glob("*.js"):
        for target in re.findall(r'^import .* from "([^"]+)";', path.read_text(), re.M):
            assert target.startswith("./") and (ASSETS / target[2:]).is_file(), (path.name, target)
