"""Port I/O and RDTSC inside fast slices (machine/portio.py): handled where they are, at their exact
instruction count, the machine ends in the state the count hook gives (BOOTDBG_NO_FAST_SLICES=1)
-- on small guests that read the timer and the TSC at every instruction boundary of a block, and
on SYSLINUX booting from a Debian package."""
from __future__ import annotations

import hashlib

import pytest

from tests.conftest import boot_machine

# Reads PIT counter 0 and the TSC between other instructions of one block: an instruction
# counted one off changes the values stored.
POLL = """
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov di, 0x1000
    mov cx, 3000
l:  mov al, 0
    out 0x43, al
    in al, 0x40
    stosb
    in al, 0x40
    stosb
    rdtsc
    stosw
    in al, 0x61
    nop
    out 0x80, al
    dec cx
    jnz l
    hlt
"""
# IRQ 0 at a short period with interrupts on; IRQ 0 masked and unmasked in the middle of blocks
# (an unmask with the IRQ pending must deliver it right after the OUT).
IRQS = """
    cli
    xor ax, ax
    mov ds, ax
    mov word [8*4], isr
    mov word [8*4+2], 0
    mov al, 0x34
    out 0x43, al
    mov al, 0x00
    out 0x40, al
    mov al, 0x02
    out 0x40, al
    mov al, 0xFE
    out 0x21, al
    sti
    mov cx, 6000
l:  in al, 0x40
    add [0x700], al
    mov al, 0xFF
    out 0x21, al
    nop
    nop
    in al, 0x61
    mov al, 0xFE
    out 0x21, al
    inc word [0x702]
    nop
    dec cx
    jnz l
    cli
    hlt
isr:
    inc word [0x704]
    push ax
    mov al, 0x20
    out 0x20, al
    pop ax
    iret
"""


def _native():
    from debugger.machine.blockcount import available

    if not available():
        pytest.skip("the native block counter is not built")


def _outcome(m, end) -> tuple:
    ram = hashlib.sha256(m.mem.read_phys(0, 0x20000)).hexdigest()
    return end.reason, end.icount, repr(m.state()), ram, bytes(m.serial_out)


@pytest.mark.parametrize("src", [POLL, IRQS], ids=["poll", "irqs"])
def test_io_in_fast_slices_gives_the_count_hooks_state(src, monkeypatch):
    _native()
    import debugger.machine.slices as slices

    monkeypatch.setattr(slices, "FAST_MIN", 16)
    got = []
    for fast in (True, False):
        m = boot_machine(src)
        m._fast_on = fast
        got.append(_outcome(m, m.run(2_000_000)))
        if fast:
            assert m.fast_slices > 0 and m._fast.placed > 1000
    assert got[0][0] == "halted"
    assert got[0] == got[1]


def test_syslinux_boot_is_the_same_with_and_without_fast_slices(monkeypatch):
    _native()
    import debugger.machine.slices as slices

    monkeypatch.setattr(slices, "FAST_MIN", 16)          # (fast slices between its BIOS calls too)
    from debugger.engine.session import Session
    from debugger.machine.disk import open_disk
    from tests.machine.stock_images import syslinux_image

    img = syslinux_image()
    got = []
    for fast in (True, False):
        s = Session(disks=[open_disk(img, boot=True)])
        s.machine._fast_on = fast
        s.cont(max_insns=6_000_000)
        got.append((s.icount, repr(s.state()), bytes(s.machine.serial_out),
                    hashlib.sha256(s.machine.mem.read_phys(0, 0x100000)).hexdigest()))
        if fast:
            assert s.machine._fast.placed > 0
    assert got[0] == got[1]
