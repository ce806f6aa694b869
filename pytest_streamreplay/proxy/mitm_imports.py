"""Import only the parts of mitmproxy the proxy runs.

``mitmproxy.master`` imports ``mitmproxy.addons.termlog``, and the ``mitmproxy.addons`` package
imports every default addon on the way: flask (the onboarding app), ldap3 (proxy auth, which
also emits pyasn1's deprecation warnings), and 30 others. The proxy uses four of them. Measured
on a loaded 2-core box: 855 modules and 3.1-4.4 s without this, 539 modules and 2.3-3.2 s with
it. The package is registered without running its ``__init__``; any of its own attributes
(``default_addons`` and the submodule names it re-exports) loads the complete package on first
access, so code that uses mitmproxy's addons itself sees no difference.

Two libraries that modules the proxy needs import at their top, but use only in functions the
proxy never calls, are registered unexecuted too and run on the first access to any name of
theirs, by anyone: ``ruamel.yaml`` (mitmproxy's options read and write YAML config files) and
``service_identity`` (aioquic checks QUIC server names with it; it brings ``attrs``). Measured
~40-60 ms of CPU per proxy start on the loaded 2-core box. ``importlib.util.LazyLoader`` cannot
do this: the ``import`` statement reads ``__spec__``, which runs a LazyLoader module at once.
Nothing changes for code that imported them first.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

__all__ = ["import_proxy_modules"]

_lock = threading.Lock()


def _lean_addons_package() -> None:
    if "mitmproxy.addons" in sys.modules:
        return
    import mitmproxy

    spec = importlib.util.find_spec("mitmproxy.addons")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    package = importlib.util.module_from_spec(spec)
    completing = threading.local()

    def complete(name: str) -> Any:
        # Submodules are left to the import system (``from mitmproxy.addons import core`` asks
        # for the attribute first); anything else is the package's own and needs its __init__.
        if name.startswith("__") or getattr(completing, "active", False):
            raise AttributeError(name)
        if importlib.util.find_spec(f"mitmproxy.addons.{name}") is not None:
            raise AttributeError(name)
        completing.active = True
        try:
            package.__dict__.pop("__getattr__", None)
            spec.loader.exec_module(package)  # type: ignore[union-attr]
        finally:
            completing.active = False
        return getattr(package, name)

    package.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules["mitmproxy.addons"] = package
    mitmproxy.addons = package  # type: ignore[attr-defined]


#: Imported by modules the proxy loads, used only in functions the proxy never calls.
DEFERRED = ("ruamel.yaml", "service_identity")


def _deferred(name: str) -> None:
    """Register ``name`` without running it. Its first missing attribute runs it, once, under a
    lock (another thread waits; the module's own code sees a plain module while it runs). A
    package hides ``__path__`` until then, so importing one of its submodules runs it first, as
    a normal import does."""
    if name in sys.modules:
        return
    parent, _, child = name.rpartition(".")
    spec = importlib.util.find_spec(name)  # imports the parent package, if any
    if spec is None or spec.loader is None:
        return
    loader = spec.loader
    module = importlib.util.module_from_spec(spec)
    path = module.__dict__.pop("__path__", None)
    lock = threading.RLock()
    state = {"running": False}

    def run_then_get(attr: str) -> Any:
        with lock:
            if module.__dict__.get("__getattr__") is run_then_get:
                if state["running"]:  # the module's own code, while it runs: not defined yet
                    raise AttributeError(attr)
                state["running"] = True
                if path is not None:
                    module.__path__ = path
                try:
                    loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(name, None)  # as a failed import leaves it: the next retries
                    raise
                finally:
                    if module.__dict__.get("__getattr__") is run_then_get:
                        del module.__dict__["__getattr__"]
        return getattr(module, attr)

    module.__getattr__ = run_then_get  # type: ignore[method-assign]
    sys.modules[name] = module
    if parent:
        setattr(sys.modules[parent], child, module)  # what ``import a.b`` would have set


def import_proxy_modules() -> dict[str, ModuleType]:
    """The mitmproxy modules ``ProxyServer`` needs, imported without the unused addons."""
    with _lock:
        _lean_addons_package()
        for name in DEFERRED:
            _deferred(name)
    names = ("options", "master", "addons.core", "addons.next_layer", "addons.proxyserver")
    modules = {n: importlib.import_module(f"mitmproxy.{n}") for n in names}
    modules["addons.tlsconfig"] = importlib.import_module("mitmproxy.addons.tlsconfig")
    modules["http"] = importlib.import_module("mitmproxy.http")
    return modules
