"""Software interrupts: where a fault during their delivery returns, INT 6, and SYSRET's #UD.

Each guest's handlers record the vector they are for and the pushed IP minus the address of the
instruction under test (`here`).  The answers are the SDM's, and what qemu-system-i386 7.2 and
Bochs 2.7 do (tests/conformance, images `realmode` and `protected`, run all three)."""
from __future__ import annotations

import pytest

PRELUDE = """
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
%macro VEC 1
    mov word [%1*4], h %+ %1
    mov word [%1*4+2], 0
%endmacro
    VEC 3
    VEC 4
    VEC 6
    VEC 13
    VEC 0x40
    jmp go
%macro HANDLER 1
h %+ %1: mov byte [0x602], %1
    jmp rec
%endmacro
    HANDLER 3
    HANDLER 4
    HANDLER 6
    HANDLER 13
    HANDLER 0x40
rec: pop ax
    sub ax, here
    mov [0x600], ax
    cli
    hlt
go:
"""


def _handler_saw(boot, body: str) -> tuple[int, int]:
    m = boot(PRELUDE + body)
    r = m.run(10_000)
    assert r.reason == "halted", r
    return m.mem.read_u(0x602, 1), m.mem.read_u(0x600, 2)


def test_a_fault_while_delivering_an_int_returns_to_the_int(boot):
    # IVT limit 37h: vector 13 (#GP) is inside it, 40h is not.  (INT3 and a not-present gate,
    # a bad target CS and a gate DPL below CPL: image `protected` of the conformance set.)
    insn, limit = "int 0x40", 0x37
    vec_seen, rel = _handler_saw(boot, f"""
    lidt [small]
here: {insn}
    nop
small: dw {limit:#x}
    dd 0
""")
    assert (vec_seen, rel) == (13, 0)


@pytest.mark.parametrize("insn, length", [("int 0x40", 2), ("int 6", 2), ("int3", 1)])
def test_a_software_interrupt_returns_after_itself(boot, insn, length):
    vec_seen, rel = _handler_saw(boot, f"""
here: {insn}
    nop
""")
    assert rel == length
    assert vec_seen == (3 if insn == "int3" else int(insn.split()[1], 0))


@pytest.mark.parametrize("code", ["db 0x0f, 0x07", "ud2"])
def test_sysret_and_ud2_in_real_mode_are_ud_faults(boot, code):
    vec_seen, rel = _handler_saw(boot, f"""
here: {code}
    nop
""")
    assert (vec_seen, rel) == (6, 0)


@pytest.mark.parametrize("encoding, flags", [
    ("db 0xf6, 0xc8, 0x80", 0x80),             # test al, 0x80 (AL=81h): SF
    ("db 0xf7, 0xcb, 0x00, 0x00", 0x44),       # test bx, 0: ZF PF
    ("db 0xf6, 0x4f, 0x01, 0x0f", 0x04),       # test byte [bx+1], 0x0f (=33h): PF
    ("db 0x66, 0xf7, 0x0f, 0x00, 0x00, 0x00, 0x80", 0x84),  # test dword [bx], 80000000h
])
def test_f6_f7_slash_1_is_test(boot, encoding, flags):
    m = boot(f"""
    xor ax, ax
    mov ds, ax
    mov word [6*4], ud
    mov word [6*4+2], 0
    mov bx, data
    mov al, 0x81
    mov bx, data
    push word 0x0002 | 0x8d5
    popf
    {encoding}
    pushf
    pop ax
    and ax, 0x8d5
    mov [0x600], ax
    cli
    hlt
ud: mov word [0x600], 0xdead
    cli
    hlt
data: db 0x00, 0x33, 0x00, 0x80
""")
    assert m.run(1000).reason == "halted"
    assert m.mem.read_u(0x600, 2) == flags


@pytest.mark.parametrize("insn, gate_attr, error_code", [
    ("int 0x41", "0x0e00", 0x41 * 8 + 2),     # gate not present: #NP
    ("int3", "0x0e00", 3 * 8 + 2),            # (INT3 through a not-present gate)
    ("int 0x41", "0xee00", None),             # DPL 3 gate to a data segment: #GP(10h)
])
def test_protected_mode_fault_while_delivering_returns_to_the_int(boot, insn, gate_attr,
                                                                   error_code):
    from tests.conftest import GDT_PM, GDT_TAIL, idt_gate

    vec = 3 if insn == "int3" else 0x41
    sel = "0x10" if error_code is None else "0x08"
    m = boot(GDT_PM + idt_gate(11, "fault") + idt_gate(13, "fault") + f"""
    mov dword [idt + {vec}*8], 0x00100000 | {sel} << 16
    mov dword [idt + {vec}*8 + 4], {gate_attr}
    lidt [idtr]
here: {insn}
    nop
fault: mov esi, esp
    cli
    hlt
idtr: dw 256*8-1
    dd idt
""" + GDT_TAIL)
    r = m.run(10_000)
    assert r.reason == "halted", r
    st = m.state()
    err, eip = m.mem.read_linear_u(st.rsi, 4), m.mem.read_linear_u(st.rsi + 4, 4)
    assert err == (error_code if error_code is not None else 0x10)
    code = m.mem.read_phys(eip, 2)
    assert code[:1] == b"\xcc" if insn == "int3" else code == b"\xcd\x41"
