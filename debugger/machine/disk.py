"""Disk images: floppy and hard-disk geometry, CHS/LBA addressing, copy-on-write sectors.

The user's image file is never modified: guest writes land in an in-memory overlay
(`Disk.dirty`), which `save()` can write out on request.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Disk", "DiskError", "Geometry", "FLOPPY_GEOMETRIES", "open_disk"]

SECTOR = 512


class DiskError(Exception):
    """The image cannot be used as a disk (message is one line for the user)."""


@dataclass(frozen=True)
class Geometry:
    cylinders: int
    heads: int
    sectors: int       # per track
    floppy_type: int = 0   # CMOS/INT 13h AH=08h drive type for floppies (4 = 1.44M)

    @property
    def total(self) -> int:
        return self.cylinders * self.heads * self.sectors


FLOPPY_GEOMETRIES = {
    360 * 1024: Geometry(40, 2, 9, 1),
    720 * 1024: Geometry(80, 2, 9, 3),
    1200 * 1024: Geometry(80, 2, 15, 2),
    1440 * 1024: Geometry(80, 2, 18, 4),
    2880 * 1024: Geometry(80, 2, 36, 5),
}


@dataclass
class Disk:
    name: str                  # "fda", "hda", ...
    data: bytes
    path: str | None = None
    kind: str = "floppy"       # "floppy" | "hd"
    geometry: Geometry = field(default_factory=lambda: FLOPPY_GEOMETRIES[1440 * 1024])
    overlay: dict[int, bytes] = field(default_factory=dict)
    reads: int = 0
    writes: int = 0

    @property
    def sectors(self) -> int:
        return max(len(self.data) // SECTOR, self.geometry.total if self.kind == "floppy" else 0)

    @property
    def bios_number(self) -> int:
        index = int(self.name[2:] or 0) if self.name[2:].isdigit() else ord(self.name[2]) - 97
        return (0x80 if self.kind == "hd" else 0) + index

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def chs_to_lba(self, c: int, h: int, s: int) -> int:
        g = self.geometry
        return (c * g.heads + h) * g.sectors + (s - 1)

    def read(self, lba: int, count: int) -> bytes:
        if lba < 0 or lba + count > self.sectors:
            raise DiskError(f"{self.name}: sectors {lba}..{lba + count - 1} beyond the end "
                            f"({self.sectors} sectors)")
        out = bytearray()
        for n in range(lba, lba + count):
            if n in self.overlay:
                out += self.overlay[n]
            else:
                chunk = self.data[n * SECTOR:(n + 1) * SECTOR]
                out += chunk + bytes(SECTOR - len(chunk))
        self.reads += count
        return bytes(out)

    def write(self, lba: int, data: bytes) -> None:
        count = len(data) // SECTOR
        if lba < 0 or lba + count > self.sectors:
            raise DiskError(f"{self.name}: sectors {lba}..{lba + count - 1} beyond the end")
        for i in range(count):
            self.overlay[lba + i] = bytes(data[i * SECTOR:(i + 1) * SECTOR])
        self.writes += count

    @property
    def dirty(self) -> bool:
        return bool(self.overlay)

    def save(self, path: str | os.PathLike[str]) -> None:
        buf = bytearray(self.data)
        for n, sec in self.overlay.items():
            end = (n + 1) * SECTOR
            if len(buf) < end:
                buf += bytes(end - len(buf))
            buf[n * SECTOR:end] = sec
        Path(path).write_bytes(bytes(buf))


def _hd_geometry(size: int) -> Geometry:
    total = max(1, (size + SECTOR - 1) // SECTOR)
    heads, spt = 16, 63
    cyl = max(1, -(-total // (heads * spt)))
    if cyl > 1024:
        heads = 255
        cyl = min(1024, -(-total // (heads * spt)))
    return Geometry(cyl, heads, spt)


def open_disk(path: str | os.PathLike[str], name: str | None = None,
              kind: str | None = None, *, boot: bool = False) -> Disk:
    """Open an image file as a disk; `kind` None chooses by size (standard floppy sizes)."""
    p = Path(path)
    if not p.exists():
        raise DiskError(f"{p}: no such file")
    if p.is_dir():
        raise DiskError(f"{p}: is a directory, not a disk image")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DiskError(f"{p}: cannot read ({exc.strerror})") from None
    return disk_from_bytes(data, str(p), name, kind, boot=boot)


def disk_from_bytes(data: bytes, label: str, name: str | None = None, kind: str | None = None,
                    *, boot: bool = False) -> Disk:
    if not data:
        raise DiskError(f"{label}: empty file, not a disk image")
    if len(data) < SECTOR:
        raise DiskError(f"{label}: only {len(data)} bytes; a boot sector needs 512")
    if boot and data[510:512] != b"\x55\xaa":
        raise DiskError(f"{label}: no boot signature (bytes 510-511 are "
                        f"{data[510]:02x} {data[511]:02x}, expected 55 aa)")
    if kind is None:
        kind = "floppy" if len(data) in FLOPPY_GEOMETRIES or len(data) <= 1440 * 1024 else "hd"
    if kind == "floppy":
        geo = FLOPPY_GEOMETRIES.get(len(data)) or FLOPPY_GEOMETRIES[1440 * 1024]
        if len(data) > 2880 * 1024:
            raise DiskError(f"{label}: {len(data)} bytes is too large for a floppy")
    elif kind == "hd":
        geo = _hd_geometry(len(data))
    else:
        raise DiskError(f"unknown drive kind {kind!r} (floppy or hd)")
    if name is None:
        name = "fda" if kind == "floppy" else "hda"
    return Disk(name, data, label, kind, geo)
