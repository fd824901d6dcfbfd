"""The sandbox side of a package call: load the package's module, describe or invoke one method.

This file is never imported by the platform: its text, followed by the package source as a
string literal, is the script the sandbox runs (`packages.sandbox_script`). It may only use the
standard library. Every answer is a JSON object with exactly one of `result`, `invalid` or
`refused`, so the caller can tell a method's return value from the runtime's own verdict; an
exception raised by the package itself is left to the sandbox (500 with its type and message).
"""
import inspect
import json
import sys
import types

MODULE_NAME = "taskport_package"
BACKGROUND_NAME = "BACKGROUND_METHODS"
CONFIG_PARAMETER = "config"

_PACKAGE_SOURCE = ""  # replaced by the text appended below this file
_PACKAGE_FILENAME = "package.py"


def _load():
    module = types.ModuleType(MODULE_NAME)
    module.__file__ = _PACKAGE_FILENAME
    sys.modules[MODULE_NAME] = module
    exec(compile(_PACKAGE_SOURCE, _PACKAGE_FILENAME, "exec"), module.__dict__)  # noqa: S102
    return module


def _methods(module):
    return {name: value for name, value in vars(module).items()
            if not name.startswith("_") and inspect.isfunction(value)
            and value.__module__ == MODULE_NAME}


def _parameters(function):
    return [name for name, parameter in inspect.signature(function).parameters.items()
            if name != CONFIG_PARAMETER and parameter.kind not in (
                inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]


def taskport_describe():
    """The package's methods and which of them are background; `invalid` when it cannot load."""
    try:
        module = _load()
    except Exception as exc:  # noqa: BLE001 - any failure to load is the source's fault
        return {"invalid": f"the source does not load: {type(exc).__name__}: {exc}"}
    methods = _methods(module)
    if not methods:
        return {"invalid": "the source defines no public top-level function (a method)"}
    background = getattr(module, BACKGROUND_NAME, ())
    if not isinstance(background, (list, tuple, set, frozenset)) or not all(
            isinstance(name, str) for name in background):
        return {"invalid": f"{BACKGROUND_NAME} must be a list of method names"}
    unknown = sorted(set(background) - set(methods))
    if unknown:
        return {"invalid": f"{BACKGROUND_NAME} names {', '.join(unknown)}, which "
                           f"{'is not a method' if len(unknown) == 1 else 'are not methods'}"}
    return {"result": [{"name": name, "background": name in background,
                        "parameters": _parameters(function)}
                       for name, function in sorted(methods.items())]}


def taskport_invoke(method, config, arguments):
    """`method(**arguments)`, with `config=` when the method declares it; its JSON value."""
    function = _methods(_load()).get(method)
    if function is None:
        return {"invalid": f"the package has no method {method!r}"}
    if CONFIG_PARAMETER in arguments:
        return {"invalid": f"{CONFIG_PARAMETER!r} is reserved for the instance's config and "
                           "cannot be an argument"}
    if CONFIG_PARAMETER in inspect.signature(function).parameters:
        arguments = {**arguments, CONFIG_PARAMETER: config}
    try:
        inspect.signature(function).bind(**arguments)
    except TypeError as exc:
        return {"invalid": f"{method}: {exc}"}
    value = function(**arguments)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return {"refused": f"{method} returned a value that is not plain JSON "
                           f"({type(value).__name__}): {exc}"}
    return {"result": value}
