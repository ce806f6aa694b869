"""The cassette format: records, body encoding, streaming reads and atomic writes."""

from .body import decode_body, encode_body
from .records import (
    FORMAT,
    FORMAT_VERSION,
    Chunk,
    Event,
    Header,
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    Record,
    WsClose,
    WsConnection,
    WsMessage,
    record_from_json,
)
from .storage import (
    CASSETTE_SUFFIX,
    CassetteError,
    CassetteWriter,
    iter_records,
    new_header,
    read_cassette,
    read_header,
    write_cassette,
)

__all__ = [
    "CASSETTE_SUFFIX",
    "FORMAT",
    "FORMAT_VERSION",
    "CassetteError",
    "CassetteWriter",
    "Chunk",
    "Event",
    "Header",
    "HttpInteraction",
    "HttpRequest",
    "HttpResponse",
    "Record",
    "WsClose",
    "WsConnection",
    "WsMessage",
    "decode_body",
    "encode_body",
    "iter_records",
    "new_header",
    "read_cassette",
    "read_header",
    "record_from_json",
    "write_cassette",
]
