"""A compressed stream's chunks, decoded one by one and compressed again chunk for chunk.

A streamed response is recorded as the wire bytes of each chunk, so a compressed one (gzip,
deflate, brotli: server-sent events or NDJSON behind ``Content-Encoding``) holds its secrets
compressed, out of reach of a text search. Redaction reads the chunks decoded and, when it
changed anything, compresses them again with each chunk flushed on its own, so a replayed
client still decodes every event at the time it was sent.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

__all__ = ["ChunkCodec", "decode_chunks"]


@dataclass(frozen=True)
class ChunkCodec:
    """How a stream was compressed: ``zlib`` window bits (gzip 31, zlib 15, raw -15) or
    brotli (``wbits`` None)."""

    wbits: int | None

    def encode(self, pieces: list[bytes]) -> list[bytes]:
        """``pieces`` compressed as one stream, one flushed output per piece (the last one
        ends the stream)."""
        if self.wbits is None:
            import brotli

            b = brotli.Compressor()
            out = [bytes(b.process(p)) + bytes(b.flush()) for p in pieces]
            out[-1] += bytes(b.finish())
            return out
        z = zlib.compressobj(6, zlib.DEFLATED, self.wbits)
        out = [z.compress(p) + z.flush(zlib.Z_SYNC_FLUSH) for p in pieces]
        out[-1] += z.flush()
        return out


def decode_chunks(encoding: str, contents: list[bytes]) -> tuple[list[bytes], ChunkCodec] | None:
    """Each chunk's decoded bytes and the codec to compress them again; None for an encoding
    this does not know (zstd, a chain of encodings) or bytes that do not decode."""
    name = encoding.strip().lower()
    if name in ("gzip", "x-gzip", "deflate"):
        # gzip or zlib by their headers; a raw deflate stream (servers that get 'deflate' wrong)
        # when neither fits.
        for wbits in (47, -15):
            d = zlib.decompressobj(wbits)
            try:
                pieces = [d.decompress(c) for c in contents]
            except zlib.error:
                continue
            if wbits == -15:
                return pieces, ChunkCodec(-15)
            first = b"".join(contents)[:1]
            return pieces, ChunkCodec(31 if first == b"\x1f" else 15)
        return None
    if name == "br":
        import brotli

        b = brotli.Decompressor()
        try:
            return [bytes(b.process(c)) for c in contents], ChunkCodec(None)
        except brotli.error:
            return None
    return None
