"""The .bdt trace file format (the only place it is defined).

    file    := FILE_HEAD chunk* [index trailer]
    FILE_HEAD = b"BOOTDBGT" u32 VERSION                        (12 bytes)
    chunk   := CHUNK_HEAD payload
    CHUNK_HEAD = b"BDTC" u8 type, u8 flags, u16 0, u32 seq, u64 icount, u32 length,
                 u32 raw_length, u32 crc32(head without crc + payload)       (32 bytes)
    trailer := b"BDTX" u64 offset of the INDEX chunk, u32 crc32 of the 12 bytes before  (16)

Each chunk says its own type, sequence number and icount, so a reader without the index (the
file was cut short) recovers by walking the chunks from the start; the first chunk whose magic,
CRC or length is wrong ends the usable part, and everything before it stays usable.  Payloads
are zlib-compressed when `flags & FLAG_ZLIB`.

Chunk types and payloads:
- HEADER (first): JSON {format, bootdbg, unicorn, config, disks: [{name, kind, path, sha256,
  size, embedded}], interval, full}
- DISK: u16 name length, name, then the next piece of that disk's bytes (pieces in order)
- INPUT: JSON list of inputs at that icount: {kind: "state"|"memory", ...} (user edits)
- CHECKPOINT: u32 meta length, JSON meta {icount, seq, clock, state_hash, serial_len,
  events_total, activity, state (CpuState.to_dict()), pages: [page numbers], devices_len,
  cpu_len}, then the CPU-only Unicorn context, the device state (restricted pickle) and the
  pages' bytes (4 KiB each, RAM as it is at this checkpoint for pages changed since the
  previous one)
- TRACE: per-instruction records (`--full`), see `fulltrace.py`
- END: JSON {icount, reason, message, serial (hex), state_hash}
- INDEX: JSON [[offset, type, icount, seq], ...] of every chunk before it
"""
from __future__ import annotations

import struct

__all__ = ["VERSION", "MAGIC", "FILE_HEAD", "CHUNK_HEAD", "CHUNK_MAGIC", "TRAILER",
           "TRAILER_MAGIC", "FLAG_ZLIB", "TYPES", "TYPE_NAMES", "TraceError",
           "TraceVersionError", "HEADER", "DISK", "INPUT", "CHECKPOINT", "TRACE", "END", "INDEX"]

VERSION = 1
MAGIC = b"BOOTDBGT"
FILE_HEAD = struct.Struct("<8sI")
CHUNK_MAGIC = b"BDTC"
CHUNK_HEAD = struct.Struct("<4sBBHIQIII")
TRAILER_MAGIC = b"BDTX"
TRAILER = struct.Struct("<4sQI")
FLAG_ZLIB = 1
MAX_CHUNK = 256 << 20          # a larger length field is damage, not data

HEADER, DISK, INPUT, CHECKPOINT, TRACE, END, INDEX = 1, 2, 3, 4, 5, 6, 7
TYPES = {"header": HEADER, "disk": DISK, "input": INPUT, "checkpoint": CHECKPOINT,
         "trace": TRACE, "end": END, "index": INDEX}
TYPE_NAMES = {v: k for k, v in TYPES.items()}


class TraceError(Exception):
    """The trace file cannot be used (one line for the user)."""


class TraceVersionError(TraceError):
    """The file was written by a newer format version."""
