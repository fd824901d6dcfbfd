"""Which wheels a package build installs: for this interpreter locally, for the sandbox
function's python3.12 x86_64 on AWS (TASKPORT_BUILD_PLATFORM). No network: pip reads only the
wheelhouse `make` fills (`.wheelhouse/`, this interpreter's wheels)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chalicelib import config
from chalicelib.errors import ConfigurationError
from chalicelib.packages import builds

PURE_WHEEL = "semver"  # py3-none-any in the wheelhouse: installable for any CPython 3
BINARY_WHEEL = "pydantic"  # only this interpreter's cp3XX manylinux wheel is there


def _platform(monkeypatch: pytest.MonkeyPatch, value: str | None, lambda_name: str | None) -> str:
    for name, chosen in (("TASKPORT_BUILD_PLATFORM", value),
                         ("AWS_LAMBDA_FUNCTION_NAME", lambda_name)):
        if chosen is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, chosen)
    config.get_settings.cache_clear()
    return config.get_settings().build_platform


def _wheelhouse() -> str:
    wheelhouse = config.get_settings().wheelhouse
    if not list(Path(wheelhouse).glob(f"{BINARY_WHEEL}-*.whl")):
        pytest.skip(f"no wheelhouse at {wheelhouse} (`make` fills it)")
    return wheelhouse


def test_build_platform_is_local_off_lambda_and_lambda_on_it(monkeypatch):
    assert _platform(monkeypatch, None, None) == "local"
    assert _platform(monkeypatch, None, "taskport-prod-task_worker") == "lambda"
    assert _platform(monkeypatch, "local", "taskport-prod-task_worker") == "local"
    assert _platform(monkeypatch, " Lambda ", None) == "lambda"


def test_unknown_build_platform_is_a_configuration_error(monkeypatch):
    with pytest.raises(ConfigurationError, match="TASKPORT_BUILD_PLATFORM"):
        _platform(monkeypatch, "arm64", None)


def test_lambda_platform_asks_pip_for_python312_x86_64_wheels_only(tmp_path):
    command = builds.pip_command("lambda", "/wheels", tmp_path, ["steamship==2.17.34"])
    pairs = list(zip(command, command[1:], strict=False))
    assert ("--python-version", "3.12") in pairs and ("--implementation", "cp") in pairs
    assert ("--abi", "cp312") in pairs and ("--only-binary", ":all:") in pairs
    platforms = {value for option, value in pairs if option == "--platform"}
    assert {"manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64"} <= platforms
    assert not [tag for tag in platforms if not tag.endswith("_x86_64")]
    assert "--no-index" in command and ("--find-links", "/wheels") in pairs
    assert ("--target", str(tmp_path)) in pairs and command[-1] == "steamship==2.17.34"


def test_local_platform_leaves_the_tags_to_this_interpreter(tmp_path):
    command = builds.pip_command("local", "/wheels", tmp_path, ["steamship"])
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert not {"--platform", "--python-version", "--abi", "--implementation"} & set(command)
    assert "--no-index" in command and command[-1] == "steamship"


def test_pip_is_found_where_this_process_imports_it():
    assert (Path(builds.pip_path()) / "pip" / "__init__.py").is_file()


def test_lambda_build_installs_pure_wheels_and_refuses_this_interpreters_binaries(monkeypatch):
    _platform(monkeypatch, "lambda", None)
    _wheelhouse()
    bundle, _ = builds.build_bundle(_zip({"requirements.txt": f"{PURE_WHEEL}\n"}))
    assert f"{PURE_WHEEL}/__init__.py" in _names(bundle)
    if sys.version_info[:2] == (3, 12):
        pytest.skip("this interpreter is the Lambda's: its binary wheels fit both")
    with pytest.raises(builds.BuildFailed, match=BINARY_WHEEL):
        builds.build_bundle(_zip({"requirements.txt": f"{BINARY_WHEEL}\n"}))


def test_local_build_installs_this_interpreters_binary_wheels(monkeypatch):
    _platform(monkeypatch, "local", None)
    _wheelhouse()
    bundle, _ = builds.build_bundle(_zip({"requirements.txt": f"{BINARY_WHEEL}\n"}))
    names = _names(bundle)
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    assert [name for name in names if name.startswith(f"{BINARY_WHEEL}/") and tag in name]


def _zip(files: dict[str, str]) -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("api.py", "VALUE = 1\n")
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


def _names(bundle: bytes) -> list[str]:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return archive.namelist()
