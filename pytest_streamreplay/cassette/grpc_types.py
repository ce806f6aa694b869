"""Protobuf message types for gRPC calls: the JSON form of a call's messages, for reading a
cassette and for matching on fields.

The types come from descriptors the test names (``grpc_descriptors``): generated ``_pb2``
modules, or FileDescriptorSet files (``protoc --descriptor_set_out=... --include_imports``).
A method's path ``/package.Service/Method`` names its request and response types. Messages are
kept as bytes in any case; the JSON form sits beside them (``google.protobuf.json_format``,
the ``.proto`` field names) and is only as good as the descriptors: a message whose bytes do
not parse as its type gets none.
"""

from __future__ import annotations

import gzip
import importlib
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .grpc import framed_messages
from .records import HttpInteraction, HttpRequest, header_value, is_grpc

__all__ = ["GrpcTypes", "GrpcTypesError", "message_forms"]


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
        self._files: set[str] = set()
        self._classes: dict[str, Any] = {}

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def load(cls, sources: Iterable[str], root: Path | None = None) -> GrpcTypes:
        """Types from module names (``my_pb2``) and FileDescriptorSet paths (relative to
        ``root``), in any mix."""
        types = cls()
        for source in sources:
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
        self._files.add(proto.name)

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


def message_forms(request: HttpRequest) -> list[Any] | None:
    """The JSON values of a request's messages when every one has a JSON form, else None."""
    forms = request.messages
    if not forms or any("json" not in f for f in forms):
        return None
    return [f["json"] for f in forms]
