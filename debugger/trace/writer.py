"""Writing a .bdt file as a stream: every chunk goes to disk as soon as it is made.

Memory stays bounded: a chunk is compressed and written at once, and the writer keeps only the
index entries (a few numbers per chunk).  `close()` writes the INDEX chunk and the trailer; a
file without them (the recorder was killed) is still readable by walking the chunks.
"""
from __future__ import annotations

import json
import threading
import zlib
from pathlib import Path
from typing import Any, BinaryIO

from debugger.trace import format as F

__all__ = ["TraceWriter"]


class TraceWriter:
    def __init__(self, path: str | Path, *, level: int = 6) -> None:
        self.path = Path(path)
        self.level = level
        try:
            self.f: BinaryIO = open(self.path, "wb")
        except OSError as exc:
            raise F.TraceError(f"{path}: cannot write ({exc.strerror or exc})") from None
        # The first write that fails (a full disk, a file-size limit): every later one and
        # close() raise it again, as a TraceError (one line), and the file stays as it is.
        self.error: F.TraceError | None = None
        self.closed = False
        self._write(F.FILE_HEAD.pack(F.MAGIC, F.VERSION))
        self.seq = 0
        self.index: list[list[int]] = []
        self.bytes_written = F.FILE_HEAD.size
        self._lock = threading.Lock()      # the full trace writes from a worker thread

    def _write(self, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        try:
            self.f.write(data)
        except OSError as exc:
            self.error = F.TraceError(f"{self.path}: cannot write ({exc.strerror or exc})")
            raise self.error from None

    def chunk(self, ctype: int, payload: bytes, icount: int = 0, *, compress: bool = True
              ) -> None:
        raw_len = len(payload)
        if compress:
            payload = zlib.compress(payload, self.level)
        self._put(ctype, payload, raw_len, icount, F.FLAG_ZLIB if compress else 0)

    def chunk_compressed(self, ctype: int, payload: bytes, raw_len: int, icount: int) -> None:
        """A chunk whose payload the caller already zlib-compressed (on another thread)."""
        self._put(ctype, payload, raw_len, icount, F.FLAG_ZLIB)

    def _put(self, ctype: int, payload: bytes, raw_len: int, icount: int, flags: int) -> None:
        with self._lock:
            head = F.CHUNK_HEAD.pack(F.CHUNK_MAGIC, ctype, flags, 0, self.seq, icount,
                                     len(payload), raw_len, 0)[:-4]
            crc = zlib.crc32(payload, zlib.crc32(head))
            offset = self.f.tell()
            self._write(head + crc.to_bytes(4, "little"))
            self._write(payload)
            self.index.append([offset, ctype, icount, self.seq])
            self.seq += 1
            self.bytes_written = offset + F.CHUNK_HEAD.size + len(payload)

    def json_chunk(self, ctype: int, obj: Any, icount: int = 0) -> None:
        self.chunk(ctype, json.dumps(obj, separators=(",", ":")).encode(), icount)

    def flush(self) -> None:
        if self.error is not None:
            raise self.error
        try:
            self.f.flush()
        except OSError as exc:
            self.error = F.TraceError(f"{self.path}: cannot write ({exc.strerror or exc})")
            raise self.error from None

    def close(self) -> None:
        if self.closed:
            return
        try:
            offset = self.f.tell()
            self.json_chunk(F.INDEX, self.index)
            tail = F.TRAILER.pack(F.TRAILER_MAGIC, offset, 0)[:-4]
            self._write(tail + zlib.crc32(tail).to_bytes(4, "little"))
            self.flush()
        finally:
            self.closed = True
            try:
                self.f.close()
            except OSError:         # (what it could not write was reported above)
                pass

    def abandon(self) -> None:
        """Close without an index (what a crash leaves; used by tests)."""
        if not self.closed:
            self.f.close()
            self.closed = True
