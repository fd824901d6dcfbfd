"""The docs stay true to the code: every setting is documented; the README is short and links only inside."""
from __future__ import annotations

import re
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _configuration_table() -> str:
    return (PROJECT_DIR / "docs" / "configuration.md").read_text()


def test_every_setting_read_by_the_code_is_documented():
    read = set()
    for path in (PROJECT_DIR / "chalicelib").rglob("*.py"):
        read |= set(re.findall(r"\"(TASKPORT_[A-Z_]+)\"", path.read_text()))
    assert read, "no settings found: the pattern no longer matches the code"
    documented = set(re.findall(r"^\| `(TASKPORT_[A-Z_]+)`", _configuration_table(), re.M))
    assert sorted(read - documented) == []


def test_readme_is_short_and_starts_with_the_two_commands():
    readme = (PROJECT_DIR / "README.md").read_text().splitlines()
    assert len(readme) <= 250
    head = "\n".join(readme[:40])
    assert "make dev" in head and "make test" in head


def test_readme_and_docs_link_only_to_files_in_the_repository():
    pages = [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md"))]
    for page in pages:
        text = page.read_text()
        assert "../shared" not in text and "DESIGN.md" not in text and "STYLE.md" not in text, page
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
