"""What the reference pages and the notebook-coverage test read from the code itself, so neither can go stale.

* ``seed_operations()``: the FLARE API this project promises to cover: every method ``KernelSession`` mirrors from
  NVFlare's ``nvflare.fuel.flare_api.flare_api.Session``, and the module functions ``flare_jupyter`` re-exports
  (``new_secure_session``, ``new_insecure_session``, ``basic_cb_with_print``).
* ``magic_for(method)``: the ``%flare`` operation (``flare_jupyter.magics.TABLE``) that makes that very call.
* ``console_command(method)``: the admin console command NVFlare's own ``Session`` method sends, read from NVFlare's
  source (``AdminCommandNames``, the shell command of the file methods, or the method it delegates to).
* ``python_call(op)``: the public Python call behind a ``%flare`` operation, read from its handler's source.

Pure reading: no server, no IPython shell.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import types

from nvflare.fuel.flare_api import flare_api

import flare_jupyter as fj
from flare_jupyter import compat
from flare_jupyter.magics import TABLE
from flare_jupyter.session import KernelSession

#: Service-provider methods of NVFlare up to 2.6 (removed with the HA overseer in 2.7). KernelSession keeps them on
#: every release, so they are part of what is taught.
SERVICE_PROVIDER_METHODS = ("list_sp", "get_active_sp", "promote_sp")

#: ``%flare`` operations named after a Session method whose handler does something else: ``%flare monitor`` opens
#: the live widget (or a text monitor), it never calls NVFlare's blocking ``monitor_job``.
MAGIC_IS_NOT_THE_CALL = {"monitor_job"}

#: Session methods that send no server command: what the admin console offers instead, if anything.
LOCAL_METHODS = {
    "set_timeout": "timeout SECONDS (the console's own command)",
    "unset_timeout": "(none: the session's default timeout)",
    "get_available_apps_to_upload": "(none: lists the kit's local transfer folder)",
    "close": "bye",
    "list_sp": "list_sp (nvflare <= 2.6)",
    "get_active_sp": "get_active_sp (nvflare <= 2.6)",
    "promote_sp": "promote_sp SP_END_POINT (nvflare <= 2.6)",
    "new_secure_session": "(log in: fl_admin.sh of the admin's startup kit)",
    "new_insecure_session": "(log in: fl_admin.sh of an insecure system's kit)",
    "basic_cb_with_print": "(none: a callback that prints the job's meta)",
}


def seed_operations() -> list[str]:
    """Every FLARE API operation to teach: KernelSession's mirrored methods, then the module functions."""
    nvflare_methods = set(dir(compat.RawSession)) | set(SERVICE_PROVIDER_METHODS)
    methods = sorted(
        name
        for name, value in vars(KernelSession).items()
        if not name.startswith("_") and callable(value) and name in nvflare_methods
    )
    return methods + module_functions()


def module_functions() -> list[str]:
    """NVFlare's flare_api module functions that flare_jupyter re-exports (the same names, the kernel's session)."""
    return sorted(
        name
        for name, value in vars(flare_api).items()
        if isinstance(value, types.FunctionType)
        and value.__module__ == flare_api.__name__
        and not name.startswith("_")
        and hasattr(fj, name)
    )


def magic_for(method: str):
    """The ``%flare`` operation whose handler makes the Session call ``method``, or None."""
    op = TABLE.operations.get(method)
    if op is None or method in MAGIC_IS_NOT_THE_CALL or method not in seed_operations():
        return None
    return op


# -- the admin console command behind an NVFlare Session method --------------------------------------------------
def _nvflare_source(method: str) -> str | None:
    impl = getattr(flare_api.Session, method, None)
    if impl is None:
        return None
    try:
        return inspect.getsource(impl)
    except (OSError, TypeError):
        return None


def console_command(method: str, _seen: frozenset = frozenset()) -> str:
    """The admin console command that NVFlare's ``Session.<method>`` sends (read from NVFlare's source)."""
    if method in LOCAL_METHODS:
        return LOCAL_METHODS[method]
    source = _nvflare_source(method)
    if source is None:
        return "(not in this NVFlare release)"
    from nvflare.apis.fl_constant import AdminCommandNames  # deferred: only the docs build reads NVFlare's names

    names = [getattr(AdminCommandNames, n, None) for n in re.findall(r"AdminCommandNames\.(\w+)", source)]
    names = [n for n in dict.fromkeys(names) if n and n != AdminCommandNames.ADMIN_CHECK_STATUS]
    if names:
        return " + ".join(names)
    shell = re.search(r"_shell_command_on_target\(\s*\"(\w+)\"", source)
    if shell:
        return shell.group(1)
    for called in re.findall(r"self\.(\w+)\(", source):  # a method built on another one (head_target_log ...)
        if not called.startswith("_") and called not in _seen and called != method:
            inner = console_command(called, _seen | {method})
            repeated = method.startswith(("monitor_job", "wait_for_job")) and "repeated" not in inner
            return inner + (" (repeated until the job ends)" if repeated else "")
    return "(none)"


# -- the Python call behind a %flare operation --------------------------------------------------------------------
#: Helpers a handler calls on the way that are not the operation itself.
_PLUMBING = {"resolve_job", "job_starting", "widgets_render_here", "parse_json", "display", "Message", "TextResult"}


def python_call(op) -> str:
    """The public Python call(s) a ``%flare`` operation's handler makes, e.g. ``fj.session().abort_job(job_id)``."""
    if op.name in seed_operations():
        return f"fj.session().{op.name}({', '.join(parameters(op.name))})"
    calls = []
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(op.handler)))):
        if isinstance(node, ast.Call):
            name = _public_name(node.func, op.handler.__globals__)
            if name and name not in calls:
                calls.append(name)
    if not calls:  # the handler hands back the session itself
        return "fj.session()"
    return " / ".join(f"{c}(...)" for c in calls)


def parameters(method: str) -> list[str]:
    """The named parameters of ``KernelSession.<method>`` (NVFlare's), without ``self``, ``*args`` and ``**kw``."""
    signature = inspect.signature(getattr(KernelSession, method))
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [name for name, p in list(signature.parameters.items())[1:] if p.kind not in variadic]


def _public_name(func: ast.expr, namespace: dict) -> str | None:
    """``fj.xxx`` / ``fj.module.xxx`` / ``fj.session().xxx`` for a call in a handler, None for plumbing."""
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        if func.value.id == "session":
            return f"fj.session().{func.attr}"
        owner = namespace.get(func.value.id)
        target = getattr(owner, func.attr, None) if isinstance(owner, types.ModuleType) else None
    elif isinstance(func, ast.Name):
        if func.id in _PLUMBING:
            return None
        target = namespace.get(func.id)
    else:
        return None
    if not callable(target) or getattr(target, "__name__", "") in _PLUMBING:
        return None
    module = getattr(target, "__module__", "") or ""
    if not module.startswith("flare_jupyter") or module.startswith("flare_jupyter.ops"):
        return None
    name = target.__name__
    if getattr(fj, name, None) is target:
        return f"fj.{name}"
    top = module.split(".")[1]
    if getattr(fj, top, None) is not None and getattr(getattr(fj, top), name, None) is target:
        return f"fj.{top}.{name}"
    return f"{module.replace('flare_jupyter', 'fj', 1)}.{name}"


def usage(op) -> str:
    """``%flare OP [ARGS]`` as argparse writes it, without ``-h`` and ``-o``."""
    text = " ".join(op.parser.format_usage().split())
    text = text.removeprefix("usage: ")
    return text.replace(" [-h]", "").replace(" [-o NAME]", "")
