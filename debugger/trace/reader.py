"""Reading a .bdt file: validate every chunk, keep what precedes any damage, explain it in one line.

Opening walks the chunks from the start (each header is checked, each payload's CRC verified
while streaming it), so a file cut short, or with a flipped byte anywhere, opens with `damage`
set to a one-line description and every chunk before the damage usable.  A file that is not a
trace, or whose format VERSION is newer than this bootdbg reads, raises `TraceError` /
`TraceVersionError` with the numbers.
"""
from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from debugger.trace import format as F
from debugger.trace import schema

__all__ = ["TraceReader", "ChunkInfo"]


@dataclass(frozen=True)
class ChunkInfo:
    offset: int
    ctype: int
    flags: int
    seq: int
    icount: int
    length: int
    raw_length: int

    @property
    def type_name(self) -> str:
        return F.TYPE_NAMES.get(self.ctype, f"type-{self.ctype}")


class TraceReader:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.f: BinaryIO = open(self.path, "rb")
        except FileNotFoundError:
            raise F.TraceError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise F.TraceError(f"{path}: is a directory, not a trace file") from None
        except OSError as exc:
            raise F.TraceError(f"{path}: cannot read ({exc.strerror or exc})") from None
        self.size = os.fstat(self.f.fileno()).st_size
        head = self.f.read(F.FILE_HEAD.size)
        if len(head) < F.FILE_HEAD.size or head[:8] != F.MAGIC:
            self.f.close()
            raise F.TraceError(f"{path}: not a bootdbg trace file (no BOOTDBGT signature)")
        version = F.FILE_HEAD.unpack(head)[1]
        if version > F.VERSION:
            self.f.close()
            raise F.TraceVersionError(
                f"{path}: trace format version {version} is newer than this bootdbg reads "
                f"(format version {F.VERSION}); use a newer bootdbg")
        if version < 1:
            self.f.close()
            raise F.TraceError(f"{path}: bad trace format version {version}")
        self.version = version
        self.entries: list[ChunkInfo] = []
        self.damage: str | None = None
        self.indexed = False
        self._walk()
        if not self.entries or self.entries[0].ctype != F.HEADER:
            self.f.close()
            raise F.TraceError(f"{path}: the trace header is missing or damaged"
                               + (f" ({self.damage})" if self.damage else ""))
        try:
            self.header: dict[str, Any] = json.loads(self.read(self.entries[0]))
            if not isinstance(self.header, dict):
                raise ValueError
        except (ValueError, F.TraceError):
            self.f.close()
            raise F.TraceError(f"{path}: the trace header is not valid") from None
        try:
            schema.header(path, self.header)
        except F.TraceError:
            self.f.close()
            raise

    # -- walking -------------------------------------------------------------------------------
    def _walk(self) -> None:
        f = self.f
        pos = F.FILE_HEAD.size
        expect_seq = 0
        while pos < self.size:
            f.seek(pos)
            raw = f.read(F.CHUNK_HEAD.size)
            if raw[:4] == F.TRAILER_MAGIC and len(raw) >= F.TRAILER.size \
                    and pos + F.TRAILER.size == self.size:
                magic, off, crc = F.TRAILER.unpack(raw[:F.TRAILER.size])
                if zlib.crc32(raw[:12]) == crc and self.entries and \
                        self.entries[-1].offset == off and self.entries[-1].ctype == F.INDEX:
                    self.indexed = True
                    return
                self.damage = f"the trailer at offset {pos} is corrupted"
                return
            if len(raw) < F.CHUNK_HEAD.size:
                self.damage = f"the file is cut short at offset {pos} (a chunk header " \
                              f"needs {F.CHUNK_HEAD.size} bytes, {len(raw)} left)"
                return
            magic, ctype, flags, _r, seq, icount, length, raw_len, crc = \
                F.CHUNK_HEAD.unpack(raw)
            where = f"chunk {expect_seq} at offset {pos}"
            if magic != F.CHUNK_MAGIC:
                self.damage = f"{where} is corrupted (bad chunk signature)"
                return
            if seq != expect_seq or length > F.MAX_CHUNK or raw_len > F.MAX_CHUNK \
                    or ctype not in F.TYPE_NAMES:
                self.damage = f"{where} is corrupted (bad chunk header)"
                return
            if pos + F.CHUNK_HEAD.size + length > self.size:
                self.damage = (f"the file is cut short in {where} ({F.TYPE_NAMES[ctype]}: "
                               f"{length} bytes announced, "
                               f"{self.size - pos - F.CHUNK_HEAD.size} present)")
                return
            c = zlib.crc32(raw[:-4])
            left = length
            while left:
                piece = f.read(min(left, 1 << 20))
                c = zlib.crc32(piece, c)
                left -= len(piece)
            if c != crc:
                self.damage = f"{where} ({F.TYPE_NAMES[ctype]}) is corrupted (checksum mismatch)"
                return
            self.entries.append(ChunkInfo(pos, ctype, flags, seq, icount, length, raw_len))
            pos += F.CHUNK_HEAD.size + length
            expect_seq += 1

    # -- payloads ------------------------------------------------------------------------------
    def read(self, e: ChunkInfo) -> bytes:
        self.f.seek(e.offset + F.CHUNK_HEAD.size)
        data = self.f.read(e.length)
        if zlib.crc32(data, zlib.crc32(self._head_bytes(e))) != self._crc(e):
            raise F.TraceError(f"{self.path}: chunk {e.seq} changed since it was opened")
        if e.flags & F.FLAG_ZLIB:
            try:
                d = zlib.decompressobj()
                data = d.decompress(data, F.MAX_CHUNK)
                if d.unconsumed_tail or not d.eof:
                    raise zlib.error("incomplete stream")
            except zlib.error as exc:
                raise F.TraceError(f"{self.path}: chunk {e.seq} ({e.type_name}) does not "
                                   f"decompress: {exc}") from None
        if len(data) != e.raw_length:
            raise F.TraceError(f"{self.path}: chunk {e.seq} ({e.type_name}) has "
                               f"{len(data)} bytes, its header says {e.raw_length}")
        return data

    def _head_bytes(self, e: ChunkInfo) -> bytes:
        self.f.seek(e.offset)
        head = self.f.read(F.CHUNK_HEAD.size)
        self.f.seek(e.offset + F.CHUNK_HEAD.size)
        return head[:-4]

    def _crc(self, e: ChunkInfo) -> int:
        pos = self.f.tell()
        self.f.seek(e.offset + F.CHUNK_HEAD.size - 4)
        crc = int.from_bytes(self.f.read(4), "little")
        self.f.seek(pos)
        return crc

    def read_json(self, e: ChunkInfo) -> Any:
        try:
            return json.loads(self.read(e))
        except ValueError:
            raise F.TraceError(f"{self.path}: chunk {e.seq} ({e.type_name}) is not valid "
                               "JSON") from None

    def of_type(self, ctype: int) -> list[ChunkInfo]:
        return [e for e in self.entries if e.ctype == ctype]

    # -- contents ------------------------------------------------------------------------------
    def disks(self) -> dict[str, bytes]:
        out: dict[str, bytearray] = {}
        for e in self.of_type(F.DISK):
            data = self.read(e)
            if len(data) < 2:
                raise F.TraceError(f"{self.path}: disk chunk {e.seq} is malformed")
            n = int.from_bytes(data[:2], "little")
            name = data[2:2 + n].decode("ascii", "replace")
            out.setdefault(name, bytearray()).extend(data[2 + n:])
        return {k: bytes(v) for k, v in out.items()}

    def inputs(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for e in self.of_type(F.INPUT):
            out.extend(schema.inputs(self.path, e.seq, self.read_json(e)))
        return out

    def end(self) -> dict[str, Any] | None:
        ends = self.of_type(F.END)
        return schema.end(self.path, ends[-1].seq, self.read_json(ends[-1])) if ends else None

    def checkpoint_meta(self, e: ChunkInfo) -> tuple[dict[str, Any], bytes]:
        data = self.read(e)
        if len(data) < 4:
            raise F.TraceError(f"{self.path}: checkpoint chunk {e.seq} is malformed")
        n = int.from_bytes(data[:4], "little")
        try:
            meta = json.loads(data[4:4 + n])
            if not isinstance(meta, dict):
                raise ValueError
        except ValueError:
            raise F.TraceError(f"{self.path}: checkpoint chunk {e.seq} is malformed") from None
        return schema.checkpoint(self.path, e.seq, meta), data[4 + n:]

    def close(self) -> None:
        self.f.close()

    def __enter__(self) -> "TraceReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
