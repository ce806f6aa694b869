"""Protobuf message types for gRPC calls: the JSON form of a call's messages, for reading a
cassette and for matching on fields.

The types come from descriptors the test names (``grpc_descriptors``): generated ``_pb2``
modules, or FileDescriptorSet files (``protoc --descriptor_set_out=... --include_imports``), or
``server-reflection``: the servers a recording called, asked while they are up.
A method's path ``/package.Service/Method`` names its request and response types. Messages are
kept as bytes in any case; the JSON form sits beside them (``google.protobuf.json_format``,
the ``.proto`` field names) and is only as good as the descriptors: a message whose bytes do
not parse as its type gets none.
"""

from __future__ import annotations

import gzip
import importlib
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .grpc import framed_messages
from .records import HttpInteraction, HttpRequest, header_value, is_grpc

__all__ = [
    "CHANNEL_HOOKS",
    "DESCRIPTOR_SET_KEY",
    "SERVER_REFLECTION",
    "GrpcTypes",
    "GrpcTypesError",
    "Reflection",
    "message_forms",
]


class GrpcTypesError(ValueError):
    """A ``grpc_descriptors`` entry that names neither an importable module nor a readable
    FileDescriptorSet file."""


def _inflate(flag: int, payload: bytes, encoding: str | None) -> bytes | None:
    """The protobuf bytes of a message (None when compressed in a way we do not know)."""
    if not flag:
        return payload
    try:
        if encoding == "gzip":
            return gzip.decompress(payload)
        if encoding == "deflate":
            return zlib.decompress(payload)
    except (OSError, zlib.error, EOFError):
        return None
    return None


class GrpcTypes:
    """A descriptor pool with the services and messages a test's calls use."""

    def __init__(self, pool: Any | None = None) -> None:
        from google.protobuf import descriptor_pool

        self.pool = pool if pool is not None else descriptor_pool.DescriptorPool()
        self._files: dict[str, Any] = {}  # name -> FileDescriptorProto, in the order added
        self._classes: dict[str, Any] = {}
        #: Set when the sources name ``server-reflection``: ask servers at record time.
        self.reflection: Reflection | None = None

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def load(cls, sources: Iterable[str], root: Path | None = None) -> GrpcTypes:
        """Types from module names (``my_pb2``) and FileDescriptorSet paths (relative to
        ``root``), in any mix."""
        types = cls()
        for source in sources:
            if source == SERVER_REFLECTION:
                types.reflection = Reflection(types)
            else:
                types.add(source, root)
        return types

    def add(self, source: str, root: Path | None = None) -> None:
        path = Path(source)
        if root is not None and not path.is_absolute():
            path = root / path
        if path.is_file():
            self.add_descriptor_set(path.read_bytes(), str(path))
            return
        try:
            module = importlib.import_module(source)
        except ImportError as exc:
            raise GrpcTypesError(
                f"grpc_descriptors: {source!r} is neither a file nor an importable module "
                f"({type(exc).__name__}: {exc}); name a generated _pb2 module on sys.path or "
                "a FileDescriptorSet written by protoc --descriptor_set_out --include_imports"
            ) from None
        descriptor = getattr(module, "DESCRIPTOR", None)
        if descriptor is None or not hasattr(descriptor, "dependencies"):
            raise GrpcTypesError(
                f"grpc_descriptors: module {source!r} has no protobuf file DESCRIPTOR "
                "(name the generated _pb2 module, not the _pb2_grpc one)"
            )
        self._add_file(descriptor)

    def add_descriptor_set(self, data: bytes, what: str = "descriptor set") -> None:
        from google.protobuf import descriptor_pb2
        from google.protobuf.message import DecodeError

        files = descriptor_pb2.FileDescriptorSet()
        try:
            files.ParseFromString(data)
        except DecodeError as exc:
            raise GrpcTypesError(
                f"grpc_descriptors: {what} is not a FileDescriptorSet ({exc}); write one with "
                "protoc --descriptor_set_out=FILE --include_imports"
            ) from None
        for proto in files.file:
            self._add_proto(proto)

    def _add_file(self, descriptor: Any) -> None:
        from google.protobuf import descriptor_pb2

        if descriptor.name in self._files:
            return
        for dependency in descriptor.dependencies:
            self._add_file(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        descriptor.CopyToProto(proto)
        self._add_proto(proto)

    def _add_proto(self, proto: Any) -> None:
        if proto.name in self._files:
            return
        self.pool.Add(proto)
        self._files[proto.name] = proto

    def descriptor_set(self) -> bytes | None:
        """Every file known, as a serialized FileDescriptorSet (None when there is none)."""
        from google.protobuf import descriptor_pb2

        if not self._files:
            return None
        files = descriptor_pb2.FileDescriptorSet()
        files.file.extend(self._files.values())
        return bytes(files.SerializeToString())

    # -- lookups -----------------------------------------------------------------------------
    def method_types(self, path: str) -> tuple[Any, Any] | None:
        """The request and response message descriptors of ``/package.Service/Method``."""
        service_name, _, method_name = path.strip("/").rpartition("/")
        try:
            service = self.pool.FindServiceByName(service_name)
        except KeyError:
            return None
        method = service.methods_by_name.get(method_name)
        return None if method is None else (method.input_type, method.output_type)

    def knows(self, path: str) -> bool:
        return self.method_types(path) is not None

    def message_class(self, descriptor: Any) -> Any:
        from google.protobuf import message_factory

        found = self._classes.get(descriptor.full_name)
        if found is None:
            found = self._classes[descriptor.full_name] = message_factory.GetMessageClass(
                descriptor
            )
        return found

    def to_json(self, descriptor: Any, payload: bytes) -> Any | None:
        """The JSON form of one message's protobuf bytes (None when they do not parse)."""
        from google.protobuf import json_format
        from google.protobuf.message import DecodeError

        message = self.message_class(descriptor)()
        try:
            message.ParseFromString(payload)
        except DecodeError:
            return None
        return json_format.MessageToDict(message, preserving_proto_field_name=True)

    def from_json(self, type_name: str, value: Any) -> bytes:
        """Protobuf bytes from a JSON form (a redacted field, written back)."""
        from google.protobuf import json_format

        descriptor = self.pool.FindMessageTypeByName(type_name)
        message = self.message_class(descriptor)()
        json_format.ParseDict(value, message)
        return bytes(message.SerializeToString())

    def _rebuilt(self, flag: int, payload: bytes, form: dict[str, Any] | None) -> bytes | None:
        """The message's protobuf bytes written from its JSON form, when that form no longer
        says what the bytes say (redaction changed it); None when they agree."""
        if form is None or "json" not in form or flag:
            return None
        descriptor = self.pool.FindMessageTypeByName(form["type"])
        if self.to_json(descriptor, payload) == form["json"]:
            return None
        try:
            return self.from_json(form["type"], form["json"])
        except Exception:  # a placeholder where a number goes: leave those fields out
            return self.from_json(
                form["type"], _strings_only(form["json"], self.to_json(descriptor, payload))
            )

    def sync_bytes(self, interaction: HttpInteraction) -> bool:
        """Write a gRPC call's message bytes again from their JSON forms where redaction
        changed the forms, so a secret leaves the protobuf bytes too; True when any did."""
        from .body import encode_body

        request, changed = interaction.request, False
        if request.messages is not None:
            out = bytearray()
            messages = framed_messages(request.content)[0]
            for i, (flag, payload) in enumerate(messages):
                form = request.messages[i] if i < len(request.messages) else None
                new = self._rebuilt(flag, payload, form)
                changed |= new is not None
                out += _framed(new) if new is not None else bytes([flag]) + _framed(payload)[1:]
            if changed:
                request.body = encode_body(bytes(out), binary=True)
        for chunk in interaction.response.chunks or []:
            messages = framed_messages(chunk.content)[0]
            if len(messages) == 1:
                new = self._rebuilt(messages[0][0], messages[0][1], chunk.message)
                if new is not None:
                    chunk.body = encode_body(_framed(new), binary=True)
                    changed = True
        return changed

    # -- annotating --------------------------------------------------------------------------
    def forms(self, data: bytes, descriptor: Any, encoding: str | None) -> list[dict[str, Any]]:
        """``{"type", "json"}`` for each whole message in ``data`` (no ``json`` when one does
        not parse or is compressed in an unknown way)."""
        out: list[dict[str, Any]] = []
        for flag, payload in framed_messages(data)[0]:
            form: dict[str, Any] = {"type": descriptor.full_name}
            raw = _inflate(flag, payload, encoding)
            value = None if raw is None else self.to_json(descriptor, raw)
            if value is not None:
                form["json"] = value
            out.append(form)
        return out

    def request_forms(self, request: HttpRequest) -> list[dict[str, Any]] | None:
        """The JSON forms of a gRPC request's messages (None: not gRPC or an unknown method)."""
        if not is_grpc(request.headers):
            return None
        types = self.method_types(request.path)
        if types is None:
            return None
        return self.forms(request.content, types[0], header_value(request.headers, "grpc-encoding"))

    def annotate(self, interaction: HttpInteraction) -> bool:
        """Put the JSON form beside each message of a gRPC call whose method is known: on the
        request (``messages``) and on each response chunk (``message``)."""
        request, response = interaction.request, interaction.response
        forms = self.request_forms(request)
        types = self.method_types(request.path) if forms is not None else None
        if forms is None or types is None:
            return False
        request.messages = forms
        encoding = response.header("grpc-encoding")
        for chunk in response.chunks or []:
            found = self.forms(chunk.content, types[1], encoding)
            chunk.message = found[0] if len(found) == 1 else None
        return True


def _framed(payload: bytes) -> bytes:
    return b"\0" + len(payload).to_bytes(4, "big") + payload


def message_forms(request: HttpRequest) -> list[Any] | None:
    """The JSON values of a request's messages when every one has a JSON form, else None."""
    forms = request.messages
    if not forms or any("json" not in f for f in forms):
        return None
    return [f["json"] for f in forms]


def _strings_only(redacted: Any, original: Any) -> Any:
    """``redacted`` without the values that were not strings before redaction changed them
    (a placeholder cannot go where a number or a boolean goes: the field is left out)."""
    if isinstance(redacted, dict) and isinstance(original, dict):
        return {
            k: _strings_only(v, original.get(k))
            for k, v in redacted.items()
            if v == original.get(k) or isinstance(original.get(k), str | dict | list)
        }
    if isinstance(redacted, list) and isinstance(original, list) and len(redacted) == len(original):
        return [_strings_only(a, b) for a, b in zip(redacted, original, strict=True)]
    return redacted


#: Called with each channel ``Reflection`` opens (the proxy's channel guard lets them through:
#: they go straight to the server on purpose, and are not the test's traffic).
CHANNEL_HOOKS: list[Callable[[Any], None]] = []

#: The ``grpc_descriptors`` entry that asks servers for their types (not a module name).
SERVER_REFLECTION = "server-reflection"
#: The cassette header key keeping what servers described (base64 of a FileDescriptorSet).
DESCRIPTOR_SET_KEY = "grpc_descriptor_set"
_REFLECTION_TIMEOUT_S = 5.0


class Reflection:
    """Asks gRPC servers for the descriptors of the services a recording called (gRPC server
    reflection, ``grpcio-reflection``), each (server, service) once, on its own thread, while
    the server is still up; ``wait`` merges what came into ``types``.

    The question goes straight to the origin, never through the proxy (so it is not recorded).
    """

    def __init__(self, types: GrpcTypes) -> None:
        self.types = types
        self._asked: dict[tuple[str, str], threading.Thread] = {}
        self._found: list[Any] = []  # FileDescriptorProtos, in dependency order
        self.problems: list[str] = []
        self._lock = threading.Lock()

    def ask(self, url: str, path: str) -> None:
        """Ask the server at ``url`` for the service of ``path`` (``/pkg.Service/Method``)."""
        service = path.strip("/").rpartition("/")[0]
        parts = urlsplit(url)
        target = parts.netloc
        if not service or not target:
            return
        key = (f"{parts.scheme}://{target}", service)
        with self._lock:
            if key in self._asked:
                return
            thread = threading.Thread(
                target=self._fetch,
                args=(target, parts.scheme == "https", service),
                name=f"streamreplay-grpc-reflection-{service}",
                daemon=True,
            )
            self._asked[key] = thread
        thread.start()

    def _fetch(self, target: str, tls: bool, service: str) -> None:
        try:
            import grpc
            from google.protobuf import descriptor_pool
            from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
                ProtoReflectionDescriptorDatabase,
            )
        except ImportError as exc:
            self._problem(f"{service}: server reflection needs grpcio-reflection ({exc})")
            return
        options = [("grpc.enable_http_proxy", 0)]  # straight to the origin, not the proxy
        channel = (
            grpc.secure_channel(target, grpc.ssl_channel_credentials(), options=options)
            if tls
            else grpc.insecure_channel(target, options=options)
        )
        for hook in CHANNEL_HOOKS:
            hook(channel)
        try:
            with channel:
                pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
                ready = grpc.channel_ready_future(channel)
                ready.result(timeout=_REFLECTION_TIMEOUT_S)
                found = pool.FindServiceByName(service)
                protos: list[Any] = []
                _collect_files(found.file, protos, set())
        except Exception as exc:  # no reflection there, or the server went away
            self._problem(f"{target} did not describe {service}: {type(exc).__name__}: {exc}")
            return
        with self._lock:
            self._found.extend(protos)

    def _problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)

    def wait(self, timeout: float = _REFLECTION_TIMEOUT_S) -> None:
        """Wait for the questions asked (at most ``timeout`` in all), then learn the answers."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._asked.values())
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            found, self._found = self._found, []
        for proto in found:
            self.types._add_proto(proto)

    def descriptor_set(self) -> bytes | None:
        """The files learned so far as a FileDescriptorSet (for a cassette's header)."""
        return self.types.descriptor_set()


def _collect_files(descriptor: Any, out: list[Any], seen: set[str]) -> None:
    from google.protobuf import descriptor_pb2

    if descriptor.name in seen:
        return
    seen.add(descriptor.name)
    for dependency in descriptor.dependencies:
        _collect_files(dependency, out, seen)
    proto = descriptor_pb2.FileDescriptorProto()
    descriptor.CopyToProto(proto)
    out.append(proto)
