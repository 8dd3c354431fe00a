"""The triage test corpus, built at test time: demo images, SYSLINUX and GRUB disks from the
Debian packages (when installed), bootkit-like images assembled with nasm, broken files, a guest
that never stops and one that is run under a memory limit it cannot live with."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from debugger.images import image_path
from tests.conftest import assemble

DEMOS = ("hello", "pmode", "vm86", "longmode", "int13hook-hd")

# Saves the INT 13h vector, takes 2 KiB at the top of conventional memory (BDA 0x413), copies
# itself there, points INT 13h at the copy (which chains to the BIOS), writes its own sector back
# to sector 0 through the hooked INT 13h, and ends at a prompt on COM1.
BOOTKIT = r"""
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
    push dx
    mov bx, [0x13*4]
    mov [old13], bx
    mov bx, [0x13*4+2]
    mov [old13+2], bx
    sub word [0x413], STEAL
    mov ax, [0x413]
    shl ax, 6
    mov es, ax
    xor di, di
    mov si, 0x7c00
    mov cx, 256
    cld
    rep movsw
    cli
    mov word [0x13*4], hook - 0x7c00
    mov [0x13*4+2], es
    sti
    pop dx
    xor ax, ax
    mov es, ax
    mov ax, 0x0301
    mov bx, 0x7c00
    mov cx, 0x0001
    xor dh, dh
    int 0x13
    mov si, msg
.p: lodsb
    test al, al
    jz .done
    mov dx, 0x3f8
    out dx, al
    jmp .p
.done:
    cli
    hlt
hook:
    jmp far [cs:old13 - 0x7c00]
old13: dd 0
msg: db "BOOTKIT-SAMPLE", 13, 10, "A:> ", 0
"""

LOOP = """
    cli
.l: inc ax
    jmp .l
"""


def build(folder: Path, *, stock: bool = True) -> dict[str, Path]:
    """Write the corpus into `folder`; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for name in DEMOS:
        out[name] = folder / f"{name}.img"
        shutil.copyfile(image_path(name), out[name])
    for name, steal in (("bootkit2k", 2), ("bootkit8k", 8)):
        out[name] = folder / f"{name}.img"
        out[name].write_bytes(assemble(f"STEAL equ {steal}\n" + BOOTKIT))
    out["loop"] = folder / "loop.img"
    out["loop"].write_bytes(assemble(LOOP))
    broken = folder / "broken"
    broken.mkdir(exist_ok=True)
    out["empty"] = broken / "empty.img"
    out["empty"].write_bytes(b"")
    out["short"] = broken / "short.img"
    out["short"].write_bytes(b"\xeb\xfe" * 50)
    out["nosig"] = broken / "nosig.img"
    out["nosig"].write_bytes(bytes(512 * 4))
    if stock:
        from tests.machine import stock_images

        for name, make in (("syslinux", stock_images.syslinux_image),
                           ("grub", stock_images.grub_image)):
            try:
                src = make()
            except pytest.skip.Exception:
                continue
            out[name] = folder / "stock" / f"{name}.img"
            out[name].parent.mkdir(exist_ok=True)
            shutil.copyfile(src, out[name])
    return out
