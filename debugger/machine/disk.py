"""Disk images: floppy and hard-disk geometry, CHS/LBA addressing, copy-on-write sectors.

The user's image file is never modified: guest writes land in an in-memory overlay
(`Disk.dirty`), which `save()` can write out on request.  An image file is not read whole:
`ImageFile` reads the sectors the guest asks for (positioned reads), so its size costs
nothing until the guest reads it.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Disk", "DiskError", "Geometry", "FLOPPY_GEOMETRIES", "ImageFile", "open_disk",
           "image_sha256", "floppy_or_hd"]

SECTOR = 512
_PIECE = 1 << 20


class ImageFile:
    """An image file read on demand: `len`, `[i]` and `[a:b]` like the bytes it holds.
    A file cut short under us reads as zeros past its new end (never a crash)."""

    def __init__(self, fd: int, size: int, label: str) -> None:
        self.fd, self.size, self.label = fd, size, label

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.size)
            data = self._read(start, max(0, stop - start))
            return data if step == 1 else data[::step]
        i = key + self.size if key < 0 else key
        if not 0 <= i < self.size:
            raise IndexError("image index out of range")
        return self._read(i, 1)[0]

    def _read(self, offset: int, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            try:
                got = os.pread(self.fd, n - len(out), offset + len(out))
            except OSError:
                got = b""
            if not got:
                break
            out += got
        return bytes(out) + bytes(n - len(out))

    def __deepcopy__(self, memo: dict[int, Any]) -> "ImageFile":
        return self                              # read-only: shared by every copy

    def __del__(self) -> None:
        try:
            os.close(self.fd)
        except (OSError, AttributeError, TypeError):
            pass


def image_sha256(data: Any) -> str:
    """SHA-256 of an image's bytes (an `ImageFile` is hashed piece by piece)."""
    h = hashlib.sha256()
    for off in range(0, len(data), _PIECE):
        h.update(data[off:off + _PIECE])
    return h.hexdigest()


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


# An image whose size is one of these is a floppy (the formats of PC drives: 5.25" single- and
# double-sided 8/9 sectors, 1.2M, 3.5" 720K/1.44M/2.88M, and the 21-sector 1.44M-drive formats
# Microsoft's DMF (1680K) and fdformat's 1722K, which QEMU's and memdisk's tables also know);
# any other size is a hard disk (`floppy_or_hd`).  The drive type is the CMOS/INT 13h one.
FLOPPY_GEOMETRIES = {
    160 * 1024: Geometry(40, 1, 8, 1),
    180 * 1024: Geometry(40, 1, 9, 1),
    320 * 1024: Geometry(40, 2, 8, 1),
    360 * 1024: Geometry(40, 2, 9, 1),
    720 * 1024: Geometry(80, 2, 9, 3),
    1200 * 1024: Geometry(80, 2, 15, 2),
    1440 * 1024: Geometry(80, 2, 18, 4),
    1680 * 1024: Geometry(80, 2, 21, 4),
    1722 * 1024: Geometry(82, 2, 21, 4),
    2880 * 1024: Geometry(80, 2, 36, 5),
}


@dataclass
class Disk:
    name: str                  # "fda", "hda", ...
    data: Any                  # bytes, or an ImageFile read on demand
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
        cached = self.__dict__.get("_sha256")
        if cached is None or cached[0] is not self.data:
            cached = self.__dict__["_sha256"] = (self.data, image_sha256(self.data))
        return cached[1]

    def chs_to_lba(self, c: int, h: int, s: int) -> int:
        g = self.geometry
        return (c * g.heads + h) * g.sectors + (s - 1)

    def read(self, lba: int, count: int) -> bytes:
        if lba < 0 or lba + count > self.sectors:
            raise DiskError(f"{self.name}: sectors {lba}..{lba + count - 1} beyond the end "
                            f"({self.sectors} sectors)")
        out = bytearray(self.data[lba * SECTOR:(lba + count) * SECTOR])
        out += bytes(count * SECTOR - len(out))
        if self.overlay:
            for n in range(lba, lba + count):
                sec = self.overlay.get(n)
                if sec is not None:
                    out[(n - lba) * SECTOR:(n - lba + 1) * SECTOR] = sec
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
        """The image with the guest's writes, piece by piece (a new file put in place, so
        saving over the image this disk reads from is safe)."""
        target = Path(path)
        tmp = target.with_name(target.name + ".bootdbg-save")
        size = max(len(self.data), max(self.overlay, default=-1) * SECTOR + SECTOR)
        with open(tmp, "wb") as f:
            for off in range(0, size, _PIECE):
                piece = bytearray(self.data[off:off + _PIECE])
                piece += bytes(min(_PIECE, size - off) - len(piece))
                first = off // SECTOR
                for n in range(first, first + len(piece) // SECTOR):
                    sec = self.overlay.get(n)
                    if sec is not None:
                        piece[(n - first) * SECTOR:(n - first + 1) * SECTOR] = sec
                f.write(piece)
        os.replace(tmp, target)


def _hd_geometry(size: int) -> Geometry:
    total = max(1, (size + SECTOR - 1) // SECTOR)
    heads, spt = 16, 63
    cyl = max(1, -(-total // (heads * spt)))
    if cyl > 1024:
        heads = 255
        cyl = min(1024, -(-total // (heads * spt)))
    return Geometry(cyl, heads, spt)


def floppy_or_hd(size: int) -> str:
    """The drive an image of `size` bytes is attached as when the user does not say: a floppy
    when the size is a floppy format's, else a hard disk (QEMU's default drive for a bare image),
    so a 1 MiB hybrid ISO or a 512-byte MBR boots with DL=80h.  `--drive fda` or
    `--fda` attach any image up to 2880K as a floppy (1.44M geometry when the size is no
    format's; reads past the image's end return zeros)."""
    return "floppy" if size in FLOPPY_GEOMETRIES else "hd"


def open_disk(path: str | os.PathLike[str], name: str | None = None,
              kind: str | None = None, *, boot: bool = False) -> Disk:
    """Open an image file as a disk; `kind` None chooses by size (standard floppy sizes)."""
    from debugger.userfile import open_image

    p = Path(path)
    fd, size = open_image(p, error=DiskError)
    return disk_from_bytes(ImageFile(fd, size, str(p)), str(p), name, kind, boot=boot)


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
        kind = floppy_or_hd(len(data))
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
