"""Guest code at a BIOS entry address runs as guest code; the BIOS serves only its own stub."""
from __future__ import annotations

import pytest

from tests.conftest import boot_machine


def _run(m, stepping: bool):
    if not stepping:
        return m.run(10_000)
    for _ in range(10_000):         # one instruction per run: every run starts at CS:IP
        r = m.run(1)
        if r.reason != "budget":
            return r
    return r


@pytest.mark.parametrize("stepping", [False, True])
def test_guest_code_copied_over_a_fixed_bios_entry_runs(stepping):
    # F000:E3FE is INT 13h's fixed entry; the guest puts `mov byte [0x600], 0x42; hlt` there,
    # after making the F segment writable (PAM0 = 30h: SeaBIOS leaves it read-only).
    m = boot_machine("""
    cli
    mov eax, 0x80000058
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfd
    mov al, 0x30
    out dx, al
    xor ax, ax
    mov ds, ax
    mov ax, 0xf000
    mov es, ax
    mov di, 0xe3fe
    mov si, code
    mov cx, code_end - code
    rep movsb
    jmp 0xf000:0xe3fe
code: mov byte [0x600], 0x42
    hlt
code_end:
""")
    r = _run(m, stepping)
    assert r.reason == "halted", r
    assert m.mem.read_u(0x600, 1) == 0x42
    assert m.bios.calls == 0


@pytest.mark.parametrize("stepping", [False, True])
def test_the_rom_stub_itself_is_still_served(stepping):
    m = boot_machine("""
    xor ax, ax
    int 0x13           ; reset disk: through the IVT to the ROM stub
    cli
    hlt
""")
    assert _run(m, stepping).reason == "halted"
    assert m.bios.calls == 1
