"""Which drive an image becomes when the user does not say: a floppy only when its size is a
floppy format's, otherwise a hard disk -- so a 1 MiB hybrid image boots with DL=80h (it booted as a
floppy, where its EDD reads fail).  `--drive fda` still makes any image up to 2.88M a floppy."""
from __future__ import annotations

import subprocess
import sys

import pytest

from debugger.machine.disk import FLOPPY_GEOMETRIES, disk_from_bytes
from tests.conftest import assemble

MIB = 1 << 20

# A hybrid-style MBR: prints DL, checks for EDD (hard disks only), reads the image's last sector
# (LBA 2047 of 1 MiB) with AH=42h and prints the prompt it holds.
HYBRID_MBR = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    mov [drive], dl
    mov si, s_dl
    call puts
    mov al, [drive]
    call hex8
    mov ah, 0x41
    mov bx, 0x55aa
    mov dl, [drive]
    int 0x13
    jc no_edd
    cmp bx, 0AA55h
    jne no_edd
    mov ah, 0x42
    mov dl, [drive]
    mov si, dap
    int 0x13
    jc no_read
    mov si, 0x8000
    call puts
    cli
    hlt
no_edd:
    mov si, s_noedd
    call puts
    cli
    hlt
no_read:
    mov si, s_noread
    call puts
    cli
    hlt
puts:
    lodsb
    test al, al
    jz .d
    call putc
    jmp puts
.d: ret
hex8:
    push ax
    shr al, 4
    call nib
    pop ax
nib:
    and al, 15
    add al, '0'
    cmp al, '9'
    jbe .o
    add al, 7
.o:
putc:
    mov dx, 0x3f8
    out dx, al
    ret
drive: db 0
s_dl: db "DL=", 0
s_noedd: db " FAIL no EDD", 10, 0
s_noread: db " FAIL read", 10, 0
align 4
dap: db 16, 0
    dw 1, 0x8000, 0
    dq 2047
"""


def _image(tmp_path, size: int = MIB):
    data = bytearray(assemble(HYBRID_MBR, pad_to=size))
    data[size - 512:size - 512 + 10] = b" hybrid> \0"
    img = tmp_path / "hybrid.img"
    img.write_bytes(bytes(data))
    return img


def _run(img, *opts: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "debugger", "run", str(img), *opts,
                           "--until-serial", "hybrid> ", "--max-insns", "2000000", "--no-state"],
                          capture_output=True, text=True, timeout=300)


def test_a_1mib_hybrid_image_boots_as_a_hard_disk_and_reaches_its_prompt(tmp_path):
    r = _run(_image(tmp_path))
    assert "DL=80 hybrid> " in r.stdout, r.stdout + r.stderr
    assert "stopped: serial" in r.stdout and r.returncode == 0


def test_drive_fda_still_makes_it_a_floppy(tmp_path):
    r = _run(_image(tmp_path), "--drive", "fda")
    assert "DL=00 FAIL no EDD" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("kib", [160, 180, 320, 360, 720, 1200, 1440, 1680, 1722, 2880])
def test_floppy_sizes_are_floppies_with_their_geometry(kib):
    data = b"\0" * 510 + b"\x55\xaa" + bytes(kib * 1024 - 512)
    d = disk_from_bytes(data, "f", boot=True)
    assert (d.kind, d.name, d.bios_number) == ("floppy", "fda", 0)
    g = d.geometry
    assert g.total * 512 == kib * 1024 and g == FLOPPY_GEOMETRIES[kib * 1024]
    assert d.sectors == g.total


@pytest.mark.parametrize("size", [512, 4096, 64 * 1024, MIB, 1440 * 1024 + 512,
                                  1440 * 1024 - 512, 2880 * 1024 + 4096, 16 * MIB])
def test_other_sizes_are_hard_disks(size):
    data = b"\0" * 510 + b"\x55\xaa" + bytes(size - 512)
    d = disk_from_bytes(data, "h", boot=True)
    assert (d.kind, d.name, d.bios_number) == ("hd", "hda", 0x80)
    assert d.sectors == size // 512 and d.geometry.total * 512 >= size
    if size <= 2880 * 1024:                  # (what --drive fda / --fda do)
        assert disk_from_bytes(data, "h", kind="floppy").bios_number == 0
