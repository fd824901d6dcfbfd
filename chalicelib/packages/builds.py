"""Steamship package versions from a `ship deploy` zip: the upload is checked and stored, then a
build task installs its requirements.txt from the wheelhouse into a bundle, loads api.py in the
sandbox to learn its methods, and only then creates the version (nothing half-built is usable).

pip runs here, in the task worker, never the package's own code: requirements are plain
names and version specifiers, installed `--no-index --only-binary :all:` from the wheelhouse,
so no setup.py runs and no index is reached. api.py is only ever imported in the sandbox.
"""
from __future__ import annotations

import compileall
import importlib.util
import json
import os
import py_compile
import re
import subprocess
import sys
import tempfile
import uuid
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

from chalicelib import sandbox
from chalicelib.config import get_settings
from chalicelib.engine import registry
from chalicelib.engine import tasks as engine
from chalicelib.errors import Conflict, Invalid, NotFound
from chalicelib.models import packages as store
from chalicelib.models.packages import BUNDLE_RUNTIME, Method, PackageVersion
from chalicelib.models.tasks import Task
from chalicelib.packages import bundles, catalog, storage
from chalicelib.packages.errors import MethodFailed

TASK_TYPE = "package.build"
ENTRY_FILE = "api.py"
MANIFEST_FILE = "steamship.json"
REQUIREMENTS_FILE = "requirements.txt"
PARAMS = {"package": str, "package_id": str, "handle": str, "zip_path": str, "zip_etag": str,
          "config_template": dict}
# A requirement line: a distribution name, optional extras, version specifiers and a marker.
# Anything else (options, paths, URLs, VCS) could make pip run code or reach elsewhere.
REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,\s-]+\])?"
                         r"\s*([<>=!~]=?\s*[A-Za-z0-9.*+!_-]+\s*(,\s*[<>=!~]=?\s*"
                         r"[A-Za-z0-9.*+!_-]+\s*)*)?(;[^\\/@]*)?$")
PIP_OUTPUT_CHARS = 3000
INTERNAL_PATHS = ("/__dir__", "/__instance_init__")
LOCAL_PLATFORM, LAMBDA_PLATFORM = "local", "lambda"  # TASKPORT_BUILD_PLATFORM
# The `sandbox` function's runtime (infra/template.yml: python3.12, x86_64, Amazon Linux 2023
# with glibc 2.34): every manylinux tag that glibc runs, as pip would list them there.
LAMBDA_PYTHON, LAMBDA_ABI = "3.12", "cp312"
LAMBDA_PLATFORM_TAGS = ("manylinux2014_x86_64",
                        *(f"manylinux_2_{minor}_x86_64" for minor in range(34, 16, -1)))


class BuildFailed(Invalid):
    """The uploaded package cannot be built; the message says why (the client shows it)."""


def _zip_names(data: bytes) -> list[str]:
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            names = archive.namelist()
            bad = archive.testzip()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BuildFailed(f"the package file is not a readable zip: {exc}", field="file") from exc
    if bad is not None:
        raise BuildFailed(f"the package zip is damaged at {bad!r}", field="file")
    for name in names:
        if name.startswith("/") or ".." in Path(name).parts or "\\" in name:
            raise BuildFailed(f"the package zip holds an unsafe path {name!r}", field="file")
    if ENTRY_FILE not in names:
        raise BuildFailed(f"the package zip has no {ENTRY_FILE} at its root (as `ship deploy` "
                          f"builds it); it holds: {', '.join(sorted(names)[:20]) or 'nothing'}",
                          field="file")
    return names


def _config_template(raw: str | None) -> dict[str, Any]:
    if raw is None or raw.strip() in ("", "null"):
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise Invalid(f"configTemplate is not JSON: {exc.msg}", field="configTemplate") from exc
    if not isinstance(value, dict):
        raise Invalid("configTemplate must be a JSON object", field="configTemplate")
    return value


def start_build(account_id: str, workspace: str, fields: dict[str, str],
                file: bytes | None) -> Task:
    """Check and store an uploaded package zip and queue its build; the build's task."""
    handle = catalog.validate_version_handle(fields.get("handle"))
    package = catalog.get_package(account_id, fields.get("packageHandle"),
                                  fields.get("packageId"))
    template = _config_template(fields.get("configTemplate"))
    if not file:
        raise Invalid("the form has no `file` part: the package zip", field="file")
    _zip_names(file)
    try:
        store.get_version(account_id, package.handle, handle)
    except NotFound:
        pass
    else:
        raise Conflict(f"package {package.handle!r} has a version {handle!r} already",
                       field="handle")
    path = f"{package.package_id}/{uuid.uuid4().hex}.zip"
    spec = engine.TaskSpec(task_type=TASK_TYPE, params={
        "package": package.handle, "package_id": package.package_id, "handle": handle,
        "zip_path": path, "zip_etag": storage.put(account_id, path, file),
        "config_template": template})
    return engine.create_tasks(account_id, workspace, [spec])[0]


def _requirements(text: str) -> list[str]:
    wanted = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if not REQUIREMENT.match(line):
            raise BuildFailed(f"{REQUIREMENTS_FILE} line {number} ({line[:100]!r}) is not a plain "
                              "requirement (name, extras, version specifiers); options, paths "
                              "and URLs are not installed", field="file")
        wanted.append(line)
    return wanted


def pip_command(platform: str, wheelhouse: str, target: Path,
                requirements: list[str]) -> list[str]:
    """pip's command line for a build: wheels from the wheelhouse only, for `platform`."""
    command = [sys.executable, "-m", "pip", "install", "--no-index", "--only-binary", ":all:",
               "--find-links", wheelhouse, "--target", str(target), "--quiet", "--no-cache-dir",
               "--disable-pip-version-check", "--no-warn-script-location", "--no-compile"]
    if platform == LAMBDA_PLATFORM:
        # The sandbox Lambda's interpreter, not this one: pip picks wheels by these tags alone.
        command += ["--python-version", LAMBDA_PYTHON, "--implementation", "cp",
                    "--abi", LAMBDA_ABI]
        for tag in LAMBDA_PLATFORM_TAGS:
            command += ["--platform", tag]
    return [*command, *requirements]


def pip_path() -> str:
    """The directory that holds the pip this process can import (on Lambda, the dependency
    layer's: the managed runtime does not promise a pip of its own)."""
    spec = importlib.util.find_spec("pip")
    if spec is None or not spec.submodule_search_locations:
        raise BuildFailed("pip is not available to the build on this deployment (it ships in "
                          "the dependency layer: infra/package.py)")
    return str(Path(next(iter(spec.submodule_search_locations))).parent)


def _install(requirements: list[str], target: Path) -> None:
    settings = get_settings()
    if not Path(settings.wheelhouse).is_dir():
        raise BuildFailed(f"the wheelhouse {settings.wheelhouse} is missing on this deployment "
                          "(TASKPORT_WHEELHOUSE; `make` fills it)")
    command = pip_command(settings.build_platform, settings.wheelhouse, target, requirements)
    # No pip configuration of this machine (index URLs, credentials) applies to a build.
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PIP_CONFIG_FILE": os.devnull,
                   "PIP_NO_INPUT": "1", "HOME": str(target.parent), "LANG": "C.UTF-8",
                   "PYTHONPATH": pip_path()}
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=environment,
                              timeout=settings.build_seconds, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BuildFailed(f"installing {REQUIREMENTS_FILE} took longer than "
                          f"{settings.build_seconds:g} s") from exc
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()[-PIP_OUTPUT_CHARS:]
        raise BuildFailed(f"installing {REQUIREMENTS_FILE} failed (pip exit {done.returncode}):\n"
                          f"{output}")


def build_bundle(upload: bytes) -> tuple[bytes, dict[str, Any]]:
    """The bundle zip for an uploaded package zip, and the configTemplate of its steamship.json."""
    _zip_names(upload)
    with tempfile.TemporaryDirectory(prefix="taskport-build-") as scratch:
        source, bundle = Path(scratch) / "source", Path(scratch) / "bundle"
        with zipfile.ZipFile(BytesIO(upload)) as archive:
            archive.extractall(source)
        requirements = source / REQUIREMENTS_FILE
        wanted = _requirements(requirements.read_text("utf-8", "replace")) \
            if requirements.is_file() else []
        bundle.mkdir()
        if wanted:
            _install(wanted, bundle)
        for path in sorted(source.rglob("*")):
            if path.is_file():
                destination = bundle / path.relative_to(source)
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(path.read_bytes())
        # Unchecked-hash bytecode: the sandbox unpacks with fresh mtimes and cannot write
        # .pyc files, so timestamp-checked ones would be recompiled on every call.
        compileall.compile_dir(str(bundle), quiet=2, workers=1,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        template = _manifest_template(source / MANIFEST_FILE)
        out = BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for path in sorted(bundle.rglob("*")):
                if path.is_file():
                    archive.write(path, str(path.relative_to(bundle)))
        return out.getvalue(), template


def _manifest_template(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BuildFailed(f"{MANIFEST_FILE} is not JSON: {exc}", field="file") from exc
    template = manifest.get("configTemplate") if isinstance(manifest, dict) else None
    return template if isinstance(template, dict) else {}


def _methods(spec: Any) -> tuple[Method, ...]:
    if not isinstance(spec, dict) or not isinstance(spec.get("methods"), list):
        raise BuildFailed("api.py loaded, but the SDK described no methods")
    methods: dict[str, Method] = {}
    for method in spec["methods"]:
        path = method.get("path") if isinstance(method, dict) else None
        if not isinstance(path, str) or path in INTERNAL_PATHS or not path.startswith("/"):
            continue
        name = path[1:]
        args = tuple(a["name"] for a in method.get("args") or () if isinstance(a, dict)
                     and isinstance(a.get("name"), str))
        methods[name] = Method(name=name, background=False, parameters=args)
    return tuple(methods[name] for name in sorted(methods))


def _describe(target: bundles.Target, bundle: bytes) -> Any:
    try:
        return bundles.describe(target, bundle)
    except MethodFailed as exc:
        raise BuildFailed(f"api.py did not load in the Steamship SDK: {exc.message}") from exc
    except sandbox.ScriptError as exc:
        hint = " (does requirements.txt name steamship?)" \
            if "steamship" in exc.error_message else ""
        raise BuildFailed(f"api.py did not load: {exc.error_type}: {exc.error_message}{hint}") \
            from exc
    except sandbox.SandboxError as exc:
        raise BuildFailed(f"api.py did not load in the sandbox: {exc.message}") from exc


def _run_build(params: dict[str, Any], ctx: registry.RunContext) -> Any:
    account_id = ctx.account_id
    try:
        upload = storage.read(account_id, params["zip_path"], params["zip_etag"])
    except (NotFound, Conflict) as exc:
        raise BuildFailed(f"the uploaded zip is gone or was replaced ({exc.message}); upload it "
                          "again") from exc
    bundle, manifest_template = build_bundle(upload)
    version_id = uuid.uuid4().hex
    path = f"{params['package_id']}/{version_id}.bundle.zip"
    etag = storage.put(account_id, path, bundle)
    try:
        spec = _describe(bundles.Target(account_id=account_id, path=path, etag=etag,
                                        version_id=version_id, package=params["package"],
                                        version=params["handle"]), bundle)
        version = store.create_version(PackageVersion(
            version_id=version_id, account_id=account_id, handle=params["handle"],
            package_id=params["package_id"], package_handle=params["package"],
            source_path=path, source_etag=etag, methods=_methods(spec), created_at="",
            runtime=BUNDLE_RUNTIME,
            config_template=params["config_template"] or manifest_template))
    except BaseException:
        storage.delete(account_id, path)  # nothing half-built stays
        raise
    storage.delete(account_id, params["zip_path"])
    return {"package": version.package_handle, "handle": version.handle,
            "id": version.version_id}


def _validate_params(params: dict[str, Any]) -> None:
    for name, kind in PARAMS.items():
        if not isinstance(params.get(name), kind):
            raise Invalid(f"{name} must be a {kind.__name__}", field=name)


def built_version(account_id: str, result: Any) -> PackageVersion:
    """The version a finished build created (its task's result names it)."""
    if not isinstance(result, dict):
        raise NotFound("the build created no version")
    return store.get_version(account_id, str(result.get("package")), str(result.get("handle")))



def install() -> None:
    """Register package.build (called through invocation.install by the composition root)."""
    registry.register(TASK_TYPE, _run_build, _validate_params, internal=True)
