"""Build stock boot-loader disk images from Debian packages at test time (cached).

- SYSLINUX: the package's MBR (`mbr.bin`) chaining to an active FAT16 partition made with
  `mkfs.fat` and `syslinux --install`, configured to prompt on the serial port (`boot:`).
- GRUB 2: `boot.img` in the MBR and a `core.img` from `grub-mkimage` in the embedding area,
  with an embedded config that switches the terminal to the serial port; with no /boot/grub
  on the disk it stops at `grub rescue>`.
"""
from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

SECTOR = 512
SIZE = 16 << 20
START = 2048
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "stock"
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")
GRUB_DIR = Path("/usr/lib/grub/i386-pc")


def _need(*tools: str) -> None:
    for t in tools:
        if shutil.which(t) is None:
            pytest.skip(f"{t} is not installed (Debian packages syslinux, mtools, dosfstools, "
                        "grub-pc-bin)")


def _mbr(code: bytes, ptype: int) -> bytes:
    mbr = bytearray(SECTOR)
    mbr[:440] = code[:440]
    count = SIZE // SECTOR - START
    mbr[446:462] = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", ptype, b"\xfe\xff\xff",
                               START, count)
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr)


def syslinux_image() -> Path:
    _need("mkfs.fat", "mcopy", "syslinux")
    if not SYSLINUX_MBR.exists():
        pytest.skip(f"{SYSLINUX_MBR} missing (Debian package syslinux-common)")
    out = CACHE / "syslinux.img"
    if out.exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = CACHE / "syslinux.img.tmp"
    with open(tmp, "wb") as f:
        f.truncate(SIZE)
    count = SIZE // SECTOR - START
    subprocess.run(["mkfs.fat", "-F", "16", "--offset", str(START), "-h", str(START), str(tmp),
                    str(count * SECTOR // 1024)], check=True, capture_output=True)
    cfg = CACHE / "syslinux.cfg"
    cfg.write_text("SERIAL 0 115200\nPROMPT 1\nTIMEOUT 0\nSAY bootdbg syslinux test\n")
    off = START * SECTOR
    subprocess.run(["mcopy", "-i", f"{tmp}@@{off}", str(cfg), "::syslinux.cfg"], check=True,
                   capture_output=True)
    subprocess.run(["syslinux", "--install", "--offset", str(off), str(tmp)], check=True,
                   capture_output=True)
    with open(tmp, "r+b") as f:
        f.write(_mbr(SYSLINUX_MBR.read_bytes(), 0x06))
    tmp.replace(out)
    return out


def grub_image() -> Path:
    _need("grub-mkimage")
    if not (GRUB_DIR / "boot.img").exists():
        pytest.skip(f"{GRUB_DIR}/boot.img missing (Debian package grub-pc-bin)")
    out = CACHE / "grub.img"
    if out.exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    early = CACHE / "early.cfg"
    early.write_text("serial --unit=0 --speed=115200\nterminal_input serial\n"
                     "terminal_output serial\necho bootdbg grub test\n")
    core = CACHE / "core.img"
    subprocess.run(["grub-mkimage", "-O", "i386-pc", "-o", str(core), "-p",
                    "(hd0,msdos1)/boot/grub", "-c", str(early), "biosdisk", "part_msdos",
                    "serial", "terminal", "echo"], check=True, capture_output=True)
    tmp = CACHE / "grub.img.tmp"
    with open(tmp, "wb") as f:
        f.truncate(SIZE)
    with open(tmp, "r+b") as f:
        f.write(_mbr((GRUB_DIR / "boot.img").read_bytes(), 0x83))
        f.seek(SECTOR)
        f.write(core.read_bytes())
    tmp.replace(out)
    return out
