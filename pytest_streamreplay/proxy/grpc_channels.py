"""gRPC channels made before a recorded test: refused, not let past the proxy.

grpcio reads ``grpc_proxy`` when a channel is created (measured: a channel made before the
test's variables, even one not used yet, connects straight to its target). Libraries make
channels at import (dydx-v4-client's ``TESTNET`` network), and a stub keeps its channel; such a
call would be missing from the cassette while recording and would reach the network while
replaying, where no socket guard sees it (grpcio's sockets are its own, in C).

So each channel notes the proxy its environment named when it was made, every call object it
hands out carries that note, and while a test is bound a call whose note is not the test's
proxy raises :class:`GrpcChannelBypassError` before anything is sent. Outside bound tests
nothing is checked. The patch goes on grpcio's channel classes (sync and ``grpc.aio``) the first
time a test is bound, or when grpcio's channel module is imported after that.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

__all__ = ["GrpcChannelBypassError", "grpc_calls_through", "own_channel"]

_NOTE = "_streamreplay_proxy"
#: The note of the plugin's own channels, opened straight to a server on purpose.
_OWN = "streamreplay:own-channel"
_TARGET = "_streamreplay_target"
_FACTORIES = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
# module -> (channel class, {call object class: its methods that start a call})
_TARGETS: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "grpc._channel": (
        "Channel",
        {
            "_UnaryUnaryMultiCallable": ("__call__", "with_call", "future"),
            "_SingleThreadedUnaryStreamMultiCallable": ("__call__",),
            "_UnaryStreamMultiCallable": ("__call__",),
            "_StreamUnaryMultiCallable": ("__call__", "with_call", "future"),
            "_StreamStreamMultiCallable": ("__call__",),
        },
    ),
    "grpc.aio._channel": (
        "Channel",
        {
            "UnaryUnaryMultiCallable": ("__call__",),
            "UnaryStreamMultiCallable": ("__call__",),
            "StreamUnaryMultiCallable": ("__call__",),
            "StreamStreamMultiCallable": ("__call__",),
        },
    ),
}
_lock = threading.Lock()
_active: list[str] = []  # the bound test's proxy URL (a stack: bindings may nest)


class GrpcChannelBypassError(RuntimeError):
    """A call on a gRPC channel that does not go through the test's proxy."""


def _proxy_of(options: Sequence[Any] | None) -> str | None:
    """The proxy grpcio takes for a channel made now with ``options`` (its own precedence)."""
    for key, value in options or ():
        if key == "grpc.enable_http_proxy" and not value:
            return None
    env = os.environ
    return env.get("grpc_proxy") or env.get("https_proxy") or env.get("http_proxy")


def own_channel(channel: Any) -> None:
    """Let a channel the plugin opens itself straight to a server through: the recorder asking
    a server for its message types by gRPC server reflection (not traffic of the test)."""
    setattr(channel, _NOTE, _OWN)


def _check(call: Any) -> None:
    if not _active:
        return
    note = getattr(call, _NOTE, None)
    if note != _active[-1] and note != _OWN:
        target = _target_of(call)
        raise GrpcChannelBypassError(
            f"gRPC channel to {target} was created before the test (at import, or in a fixture "
            "set up before the recording), without the proxy: grpcio takes grpc_proxy when a "
            "channel is created, so this call would go straight to the server, unrecorded, "
            "even when replaying. Refused; create the channel (or the client that makes it, "
            "e.g. dydx_v4_client's make_testnet()/make_mainnet()) inside the test"
        )


def _target_of(call: Any) -> str:
    """Where a call would go. A channel made before grpcio was patched has no note of it:
    then grpcio's own fields (the sync call's ``_target``, the aio call's channel)."""
    target = getattr(call, _TARGET, None) or getattr(call, "_target", None)
    if target is None:
        target = getattr(getattr(call, "_channel", None), "target", None)  # bytes in grpc.aio
    if isinstance(target, bytes):
        target = target.decode(errors="replace")
    return str(target) if target else "an unknown target"


def _patch_init(cls: type) -> None:
    original = cls.__init__  # type: ignore[misc]

    def __init__(self: Any, target: Any, options: Any = None, *args: Any, **kw: Any) -> None:
        original(self, target, options, *args, **kw)
        setattr(self, _NOTE, _proxy_of(options))
        setattr(self, _TARGET, target)

    cls.__init__ = __init__  # type: ignore[misc]


def _patch_factory(cls: type, name: str) -> None:
    original = getattr(cls, name)

    def factory(self: Any, *args: Any, **kw: Any) -> Any:
        call = original(self, *args, **kw)
        with contextlib.suppress(AttributeError):
            setattr(call, _NOTE, getattr(self, _NOTE, None))
            setattr(call, _TARGET, getattr(self, _TARGET, None))
        return call

    setattr(cls, name, factory)


def _patch_call(cls: type, name: str) -> None:
    original = getattr(cls, name)

    def start(self: Any, *args: Any, **kw: Any) -> Any:
        _check(self)
        return original(self, *args, **kw)

    setattr(cls, name, start)


def _patch(module: ModuleType) -> None:
    channel_name, calls = _TARGETS[module.__name__]
    channel = getattr(module, channel_name, None)
    if channel is None or getattr(channel, _NOTE + "_patched", False):
        return
    _patch_init(channel)
    for name in _FACTORIES:
        if hasattr(channel, name):
            _patch_factory(channel, name)
    for cls_name, methods in calls.items():
        cls = getattr(module, cls_name, None)
        if isinstance(cls, type):
            for method in methods:
                if hasattr(cls, method):
                    _patch_call(cls, method)
    setattr(channel, _NOTE + "_patched", True)


class _PatchedLoader(importlib.abc.Loader):
    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        _patch(module)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches grpcio's channel modules when they are imported after the first bound test."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec: importlib.machinery.ModuleSpec | None = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchedLoader(spec.loader)
                return spec
        return None


def _loaded(name: str) -> list[ModuleType]:
    """The copies of module ``name`` in use: ``sys.modules``' and the one its package holds as
    an attribute, which grpcio's own code reaches (they differ after a module was dropped from
    ``sys.modules`` and imported again, as pytester's inline runs do)."""
    found = [m for m in (sys.modules.get(name),) if m is not None]
    parent, _, child = name.rpartition(".")
    held = getattr(sys.modules.get(parent), child, None)
    if isinstance(held, ModuleType) and all(held is not m for m in found):
        found.append(held)
    return found


def _install() -> None:
    from ..cassette.grpc_types import CHANNEL_HOOKS

    with _lock:
        if own_channel not in CHANNEL_HOOKS:
            CHANNEL_HOOKS.append(own_channel)
        for name in _TARGETS:
            for module in _loaded(name):
                _patch(module)
        # checked each time: a test tool may restore sys.meta_path to an earlier copy
        if not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
            sys.meta_path.insert(0, _PatchOnImport())


@contextlib.contextmanager
def grpc_calls_through(proxy_url: str) -> Iterator[None]:
    """While bound: a gRPC call on a channel made without ``proxy_url`` raises."""
    _install()
    _active.append(proxy_url)
    try:
        yield
    finally:
        _active.pop()
