"""Boot images built from Debian packages (cached): the real workloads of `bootdbg bench real`
and of the stock-loader tests.  None of their code is written here.

- `syslinux`: the package's MBR (`mbr.bin`) chaining to an active FAT16 partition made with
  `mkfs.fat` and `syslinux --install`, configured to prompt on the serial port (`boot:`).
- `syslinux_com32_image(module)`: the same disk running a COM32 module (hdt, pcitest) at once.
- `grub`: `boot.img` in the MBR and a `core.img` from `grub-mkimage` in the embedding area, with
  an embedded config that switches the terminal to the serial port; with no /boot/grub on the
  disk it stops at `grub rescue>` (after calibrating its TSC by polling the PIT).
- `grub-rescue-floppy`: grub-rescue-pc's floppy, to its menu (screen).
- `memtest86+`: memtest86+'s ia32 image as a floppy, to its test screen.
- `ipxe`: ipxe's hybrid ISO (ISOLINUX, then iPXE) as a hard disk, to its first prompt (screen).
- `linux`: SYSLINUX booting a Debian amd64 kernel (`vmlinuz` from an installed linux-image package,
  or the newest linux-image .deb in apt's cache) with `console=ttyS0`, to "Linux version" on the
  serial port (printed once the kernel registers its console, after decompressing itself and
  setting up long mode and its memory).

A builder raises `Unavailable` (with the Debian package to install) when a tool or file is
missing.
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

__all__ = ["Unavailable", "syslinux_image", "syslinux_com32_image", "grub_image",
           "grub_rescue_floppy", "memtest_floppy", "ipxe_iso", "linux_image", "cache_dir"]

SECTOR = 512
SIZE = 16 << 20
START = 2048
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")
COM32_DIR = Path("/usr/lib/syslinux/modules/bios")
COM32_LIBS = ("libcom32", "libutil", "libmenu", "libgpl")
GRUB_DIR = Path("/usr/lib/grub/i386-pc")
GRUB_RESCUE_FLOPPY = Path("/usr/lib/grub-rescue/grub-rescue-floppy.img")
MEMTEST = Path("/boot/memtest86+ia32.bin")
IPXE_ISO = Path("/usr/lib/ipxe/ipxe.iso")
FLOPPY = 1474560


class Unavailable(Exception):
    """What is missing to build an image (one line)."""


def cache_dir() -> Path:
    base = os.environ.get("BOOTDBG_IMAGE_CACHE")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "bootdbg" / "stock"


def _need(*tools: str) -> None:
    for t in tools:
        if shutil.which(t) is None:
            raise Unavailable(f"{t} is not installed (Debian packages syslinux, mtools, "
                              "dosfstools, grub-pc-bin)")


def _file(path: Path, package: str) -> None:
    if not path.exists():
        raise Unavailable(f"{path} missing (Debian package {package})")


def _mbr(code: bytes, ptype: int, size: int = SIZE) -> bytes:
    mbr = bytearray(SECTOR)
    mbr[:440] = code[:440]
    count = size // SECTOR - START
    mbr[446:462] = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", ptype, b"\xfe\xff\xff",
                               START, count)
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr)


def syslinux_image(cache: Path | None = None) -> Path:
    return _syslinux_disk("syslinux.img", "SERIAL 0 115200\nPROMPT 1\nTIMEOUT 0\n"
                          "SAY bootdbg syslinux test\n", (), cache)


def syslinux_com32_image(module: str, append: str = "", cache: Path | None = None) -> Path:
    """The SYSLINUX disk running the COM32 module MODULE.c32 (e.g. `hdt`, `pcitest`) at once,
    with its libraries, output on the serial port too."""
    mods = COM32_DIR
    _file(mods / f"{module}.c32", "syslinux-common")
    cfg = (f"SERIAL 0 115200\nDEFAULT run\nLABEL run\n  COM32 {module}.c32\n"
           f"  APPEND {append}\nPROMPT 0\nTIMEOUT 0\n")
    files = [mods / f"{n}.c32" for n in (module, *COM32_LIBS)]
    return _syslinux_disk(f"syslinux-{module}.img", cfg, files, cache)


def _syslinux_disk(name: str, config: str, files, cache: Path | None, size: int = SIZE) -> Path:
    _need("mkfs.fat", "mcopy", "syslinux")
    _file(SYSLINUX_MBR, "syslinux-common")
    cache = cache or cache_dir()
    out = cache / name
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f"{name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.truncate(size)
    count = size // SECTOR - START
    subprocess.run(["mkfs.fat", "-F", "16", "--offset", str(START), "-h", str(START), str(tmp),
                    str(count * SECTOR // 1024)], check=True, capture_output=True)
    cfg = cache / f"syslinux.cfg.{os.getpid()}"
    cfg.write_text(config)
    off = START * SECTOR
    subprocess.run(["mcopy", "-i", f"{tmp}@@{off}", str(cfg), "::syslinux.cfg"], check=True,
                   capture_output=True)
    cfg.unlink()
    for path in files:
        subprocess.run(["mcopy", "-i", f"{tmp}@@{off}", str(path), f"::{path.name}"],
                       check=True, capture_output=True)
    subprocess.run(["syslinux", "--install", "--offset", str(off), str(tmp)], check=True,
                   capture_output=True)
    with open(tmp, "r+b") as f:
        f.write(_mbr(SYSLINUX_MBR.read_bytes(), 0x06, size))
    tmp.replace(out)
    return out


def grub_image(cache: Path | None = None) -> Path:
    _need("grub-mkimage")
    _file(GRUB_DIR / "boot.img", "grub-pc-bin")
    cache = cache or cache_dir()
    out = cache / "grub.img"
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    early = cache / f"early.cfg.{os.getpid()}"
    early.write_text("serial --unit=0 --speed=115200\nterminal_input serial\n"
                     "terminal_output serial\necho bootdbg grub test\n")
    core = cache / f"core.img.{os.getpid()}"
    subprocess.run(["grub-mkimage", "-O", "i386-pc", "-o", str(core), "-p",
                    "(hd0,msdos1)/boot/grub", "-c", str(early), "biosdisk", "part_msdos",
                    "serial", "terminal", "echo"], check=True, capture_output=True)
    tmp = cache / f"grub.img.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.truncate(SIZE)
    with open(tmp, "r+b") as f:
        f.write(_mbr((GRUB_DIR / "boot.img").read_bytes(), 0x83))
        f.seek(SECTOR)
        f.write(core.read_bytes())
    early.unlink()
    core.unlink()
    tmp.replace(out)
    return out


def grub_rescue_floppy(cache: Path | None = None) -> Path:
    _file(GRUB_RESCUE_FLOPPY, "grub-rescue-pc")
    return GRUB_RESCUE_FLOPPY


def memtest_floppy(cache: Path | None = None) -> Path:
    """memtest86+'s ia32 image (a floppy boot sector and the Linux boot protocol), padded to a
    1.44 MB floppy."""
    _file(MEMTEST, "memtest86+")
    cache = cache or cache_dir()
    out = cache / "memtest86+.img"
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    data = MEMTEST.read_bytes()
    if len(data) > FLOPPY:
        raise Unavailable(f"{MEMTEST} is larger than a floppy")
    tmp = cache / f"memtest86+.img.{os.getpid()}.tmp"
    tmp.write_bytes(data + bytes(FLOPPY - len(data)))
    tmp.replace(out)
    return out


def ipxe_iso(cache: Path | None = None) -> Path:
    _file(IPXE_ISO, "ipxe")
    if IPXE_ISO.read_bytes()[510:512] != b"\x55\xaa":
        raise Unavailable(f"{IPXE_ISO} is not a hybrid ISO (no MBR)")
    return IPXE_ISO


def _kernel() -> Path:
    """A Debian amd64 kernel: an installed one, else the newest linux-image .deb apt cached."""
    boot = sorted(Path("/boot").glob("vmlinuz-*"))
    if boot:
        return boot[-1]
    debs = sorted(Path("/var/cache/apt/archives").glob("linux-image-[0-9]*-amd64_*.deb"))
    debs = [d for d in debs if "dbg" not in d.name and "unsigned" not in d.name]
    if not debs:
        raise Unavailable("no Debian kernel (install linux-image-amd64, or `apt-get download "
                          "linux-image-cloud-amd64` into /var/cache/apt/archives)")
    _need("dpkg-deb")
    deb = debs[-1]
    out = cache_dir() / f"{deb.stem}.vmlinuz"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / f"deb.{os.getpid()}"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True, capture_output=True)
        found = sorted(tmp.glob("boot/vmlinuz-*"))
        if not found:
            shutil.rmtree(tmp, ignore_errors=True)
            raise Unavailable(f"{deb} holds no boot/vmlinuz-*")
        found[-1].replace(out)
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def linux_image(cache: Path | None = None) -> Path:
    """SYSLINUX booting a Debian amd64 kernel, its console on the serial port."""
    kernel = _kernel()
    cache = cache or cache_dir()
    name = f"linux-{kernel.name}.img"
    if (cache / name).exists():
        return cache / name
    work = cache / f"kernel.{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        copy = work / "vmlinuz"
        shutil.copyfile(kernel, copy)
        size = max(SIZE, (copy.stat().st_size * 2 + (8 << 20)) & ~((1 << 20) - 1))
        cfg = ("SERIAL 0 115200\nDEFAULT linux\nLABEL linux\n  KERNEL vmlinuz\n"
               "  APPEND console=ttyS0,115200\nPROMPT 0\nTIMEOUT 0\n")
        return _syslinux_disk(name, cfg, [copy], cache, size)
    finally:
        shutil.rmtree(work, ignore_errors=True)
