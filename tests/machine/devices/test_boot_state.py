"""The device state a boot sector sees, compared with qemu-system-i386 + SeaBIOS.

A probe boot sector prints, through port E9h, the registers a boot loader may look at (PIC masks,
8042, port 92h, COM1, VGA, PIT modes, CMOS configuration).  `QEMU_SEEN` is what it printed under
qemu-system-i386 8.x with SeaBIOS and -m 64 (one 1.44 MB floppy); the slow test re-runs the
probe under QEMU when it is installed.  Values that depend on the moment of reading (PIT OUT
bits, refresh toggle, retrace, RTC flags) are not printed; the CMOS checksum is left out because
QEMU does not maintain it.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import assemble

PORTS = (0x21, 0xA1, 0x64, 0x92, 0x3F9, 0x3FA, 0x3FB, 0x3FC, 0x3FD, 0x3FE, 0x3CC, 0xE9, 0x70)
CMOS = (0x0B, 0x0D, 0x10, 0x14, 0x15, 0x16, 0x17, 0x18, 0x30, 0x31, 0x34, 0x35, 0x32, 0x3D,
        0x38, 0x5F)
CRTC = (0x01, 0x07, 0x09, 0x11, 0x12, 0x13, 0x14, 0x17)

QEMU_SEEN = {
    "ports": [0xB8, 0x8E, 0x1C, 0x02, 0x00, 0x01, 0x00, 0x08, 0x60, 0xB0, 0x67, 0xE9, 0xFF],
    "cmos": [0x02, 0x80, 0x40, 0x07, 0x80, 0x02, 0x00, 0xFC, 0x00, 0xFC, 0x00, 0x03, 0x20, 0x12,
             0x30, 0x00],
    "pit": [0x34, 0x06, 0x06],               # read-back status, OUT bit masked off
    "kbc": [0x61, 0xCF, 0x80],               # command byte, output port, input port
    "vga": [0x0E, 0x4F, 0x1F, 0x4F, 0x8E, 0x8F, 0x28, 0x1F, 0xA3],   # GC 06h, then CRTC
}


def _db(values: tuple[int, ...]) -> str:
    return ", ".join(f"0x{v:x}" for v in values)


PROBE = f"""
    cli
    xor ax, ax
    mov ds, ax
    mov si, ports
.ports:
    lodsw
    cmp ax, 0xffff
    je .cmos
    mov dx, ax
    in al, dx
    call hex
    jmp .ports
.cmos:
    mov si, cmos
.c2:
    lodsb
    cmp al, 0xff
    je .pit
    out 0x70, al
    in al, 0x71
    call hex
    jmp .c2
.pit:
    mov al, 0xEE                ; read-back: status only, channels 0-2
    out 0x43, al
    in al, 0x40
    call hexout
    in al, 0x41
    call hexout
    in al, 0x42
    call hexout
    mov si, kbccmd
.k:
    lodsb
    cmp al, 0xff
    je .vga
    out 0x64, al
.kw:
    in al, 0x64
    test al, 1
    jz .kw
    in al, 0x60
    call hex
    jmp .k
.vga:
    mov dx, 0x3ce
    mov al, 6
    out dx, al
    inc dx
    in al, dx
    call hex
    mov si, crtc
.cr:
    lodsb
    cmp al, 0xff
    je .done
    mov dx, 0x3d4
    out dx, al
    inc dx
    in al, dx
    call hex
    jmp .cr
.done:
    mov al, 0
    out 0xf4, al                ; QEMU isa-debug-exit (unknown port here)
    cli
    hlt
    jmp .done
hexout:                         ; a PIT status without its OUT bit
    and al, 0x7f
hex:
    push ax
    shr al, 4
    call nib
    pop ax
    call nib
    mov al, ' '
    out 0xe9, al
    ret
nib:
    and al, 0xf
    add al, '0'
    cmp al, '9'
    jbe .o
    add al, 7
.o: out 0xe9, al
    ret
ports: dw {_db(PORTS)}, 0xffff
cmos: db {_db(CMOS)}, 0xff
kbccmd: db 0x20, 0xd0, 0xc0, 0xff
crtc: db {_db(CRTC)}, 0xff
"""


def _split(text: str) -> dict[str, list[int]]:
    vals = [int(v, 16) for v in text.split()]
    out, i = {}, 0
    for key, n in (("ports", len(PORTS)), ("cmos", len(CMOS)), ("pit", 3), ("kbc", 3),
                   ("vga", 1 + len(CRTC))):
        out[key] = vals[i:i + n]
        i += n
    return out


def _image() -> bytes:
    return assemble(PROBE)


def test_our_boot_state_matches_what_qemu_showed():
    from debugger.machine.disk import disk_from_bytes
    from debugger.machine.pc import Machine, MachineConfig

    m = Machine([disk_from_bytes(_image(), "probe.img", None, "floppy", boot=True)],
                MachineConfig(ram_size=64 << 20))
    r = m.run(2_000_000)
    assert r.reason == "halted", r.message
    assert _split(m.devices.debugcon.output.decode()) == QEMU_SEEN


@pytest.mark.slow
def test_qemu_still_shows_the_recorded_state(tmp_path):
    qemu = shutil.which("qemu-system-i386")
    if qemu is None:
        pytest.skip("qemu-system-i386 not installed")
    img = tmp_path / "probe.img"
    img.write_bytes(_image())
    out = tmp_path / "e9.txt"
    subprocess.run([qemu, "-display", "none", "-no-reboot", "-m", "64", "-serial", "null",
                    "-monitor", "none", "-debugcon", f"file:{out}",
                    "-device", "isa-debug-exit,iobase=0xf4",
                    "-drive", f"format=raw,file={img},if=floppy"], timeout=60,
                   capture_output=True)
    text = out.read_text(errors="replace")
    # SeaBIOS may print its own messages on E9h first; the probe's output is the tail.
    words = text.split()
    tail = " ".join(words[-(len(PORTS) + len(CMOS) + 3 + 3 + 1 + len(CRTC)):])
    assert _split(tail) == QEMU_SEEN
