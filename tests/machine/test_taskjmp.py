"""Task switches by instruction (machine/taskinsn.py): a far CALL or JMP to a TSS or through a task
gate in the GDT, and IRET with NT=1, between 32- and 16-bit TSSs -- the formats each side is
saved and loaded in, busy bits, back link, NT, the faults and their order -- and the same states
whichever way the machine runs them (fast block-counted slices, counted slices, one instruction
at a time).

Before, Unicorn (QEMU 5) did these switches itself: with a 16-bit TSS on either side it stored
the outgoing task in the incoming TSS's format and 16-bit selectors 4 bytes apart (the first
test failed on the main TSS's saved EIP, and the 16-bit TSS's fields past 2Bh were overwritten).
The same behaviour against QEMU 7.2 and Bochs: images/conformance/taskjmp.asm.
"""
from __future__ import annotations

import pytest

from debugger.machine import blockcount
from debugger.machine.pc import Stop
from tests.machine.test_taskgate import MAIN, T16, T32, _desc_type, _guest, _halt, _resume, _u


def test_call_to_16_bit_tss_and_iret_back(boot):
    m = _guest(boot, "    mov dword [0x2200 + 0x2c], 0x77777777\n", """
call_at:
    call 0x38:0
    hlt
""")
    st = _halt(m)
    task16 = st.rip - 1
    # The new (16-bit) task: TR, its registers (upper halves FFFFh), NT, back link, busy bits.
    assert st.tr.selector == 0x38 and st.tr.base == T16 and st.tr.limit == 0x2B
    assert (st.rax, st.rcx, st.rdi) == (0xFFFF1600, 0xFFFF1601, 0xFFFF1607)
    assert st.rsp == 0xFFFF6000 and st.ss.selector == 0x50 and not st.ss.db
    assert st.rflags & 0x4000 and st.cr0 & 8
    assert st.fs.selector == 0 and st.gs.selector == 0
    assert _u(m, T16, 2) == 0x28
    assert _desc_type(m, 0x38) == 0x3 and _desc_type(m, 0x28) == 0xB
    # The outgoing (32-bit) task, in its own format: EIP after the CALL, all six selectors.
    back_at = _u(m, MAIN + 0x20)
    assert m.mem.read_linear(back_at - 7, 1) == b"\x9a"
    assert (_u(m, MAIN + 0x28), _u(m, MAIN + 0x34), _u(m, MAIN + 0x38)) == \
        (0x11111111, 0x22222222, 0x9000)
    assert [_u(m, MAIN + 0x48 + 4 * i, 2) for i in range(6)] == [0x10, 8, 0x10, 0x10, 0x10, 0x10]
    assert _u(m, T16 + 0x2C) == 0x77777777
    # IRET (NT=1) out of the 16-bit task: saved in 16-bit format, NT clear in the image.
    _resume(m)
    st = _halt(m)
    assert st.tr.selector == 0x28 and st.rip == back_at + 1
    assert (st.rax, st.rbx, st.rsp) == (0x11111111, 0x22222222, 0x9000)
    assert not st.rflags & 0x4000
    assert _desc_type(m, 0x38) == 0x1 and _desc_type(m, 0x28) == 0xB
    assert _u(m, T16 + 0x0E, 2) == task16 + 2              # after its IRETD
    assert _u(m, T16 + 0x10, 2) == 0x0002
    assert [_u(m, T16 + 0x12 + 2 * i, 2) for i in range(8)] == \
        [0x1600, 0x1601, 0x1602, 0x1603, 0x6000, 0x1605, 0x1606, 0x1607]
    assert [_u(m, T16 + 0x22 + 2 * i, 2) for i in range(4)] == [0x10, 8, 0x50, 0x10]
    assert _u(m, T16 + 0x2C) == 0x77777777


@pytest.mark.parametrize("how", ["direct", "mem"])
def test_jmp_moves_the_busy_bit_without_link_or_nt(boot, how):
    insn = "jmp 0x30:0" if how == "direct" else "jmp far [ptr]"
    m = _guest(boot, "", f"""
    pushfd
    or dword [esp], 0x4000      ; NT=1 in the outgoing task: a JMP keeps it in its image
    popfd
    {insn}
    hlt
ptr: dd 0x1234
    dw 0x30
""")
    st = _halt(m)
    assert st.tr.selector == 0x30 and not st.rflags & 0x4000
    assert _desc_type(m, 0x30) == 0xB and _desc_type(m, 0x28) == 0x9
    assert _u(m, T32, 2) == 0                               # no back link
    assert _u(m, MAIN + 0x24) & 0x4000
    # JMP back to the (now available) main task
    m.mem.write_linear(st.rip, b"\xea\x00\x00\x00\x00\x28\x00\xf4")   # jmp 0x28:0; hlt
    _resume(m)
    st = _halt(m)
    assert st.tr.selector == 0x28 and _desc_type(m, 0x28) == 0xB and _desc_type(m, 0x30) == 0x9
    assert st.rflags & 0x4000                               # (from its image)


@pytest.mark.parametrize("body, vector, code", [
    ("jmp 0x28:0", 13, 0x28),                   # the running (busy) task
    ("call 0x33:0", 13, 0x30),                  # RPL 3 above the TSS's DPL 0
    ("call 0x48:0", 11, 0x48),                  # a task gate that is not present
    ("jmp 0x58:0", 13, 0x28),                   # a task gate to the busy main TSS
    ("mov word [0x2000], 0x30\n pushfd\n or dword [esp], 0x4000\n popfd\n iretd",
     10, 0x30),                                 # IRET: the back link is not busy
    ("mov word [0x2000], 0x34\n pushfd\n or dword [esp], 0x4000\n popfd\n iretd",
     10, 0x34),                                 # IRET: the back link is in the LDT
], ids=["busy", "dpl", "gate-np", "gate-busy", "iret-available", "iret-ldt"])
def test_faults_before_the_switch_leave_the_task(boot, body, vector, code):
    m = _guest(boot, """
    mov dword [gdt + 0x48], 0x00280000          ; 48: task gate -> 28h, not present
    mov dword [gdt + 0x4c], 0x00000500
    mov dword [gdt + 0x58], 0x00280000          ; 58: task gate -> 28h
    mov dword [gdt + 0x5c], 0x00008500
""", f"""
fault_at:
    {body}
    hlt
""")
    st = _halt(m)
    assert st.rbp == vector and st.tr.selector == 0x28
    assert _u(m, st.rsp) == code
    assert m.mem.read_linear(_u(m, st.rsp + 4), 1)[0] in (0xEA, 0x9A, 0xCF)
    assert _desc_type(m, 0x28) == 0xB and _desc_type(m, 0x30) == 0x9


def test_fault_while_loading_the_new_task_comes_in_its_context(boot):
    # The 32-bit task's SS is null: #TS(0) after TR, the busy bits and CS were switched.
    m = _guest(boot, "    mov dword [0x2100 + 0x50], 0\n", """
    jmp 0x30:0
""")
    st = _halt(m)
    assert st.rbp == 10 and st.tr.selector == 0x30
    assert _desc_type(m, 0x30) == 0xB and _desc_type(m, 0x28) == 0x9
    assert st.cs.selector == 8 and st.ss.selector == 0


SWITCHER = """
    mov dword [0x2100 + 0x20], t32
    mov word [0x2200 + 0x0e], t16
    mov ebp, 200
    mov dword [0x3000], 0
    mov dword [0x3004], 0
""", """
again:
    call 0x38:0                 ; 32 -> 16 (CALL), 16 -> 32 (IRET)
    jmp 0x30:0                  ; 32 -> 32 (JMP); it JMPs back
    call far [p16]              ; 32 -> 16 through memory
    dec ebp
    jnz again
    hlt
t16:
    inc word [0x3000]
    iretd
    jmp t16
t32:
    inc dword [0x3004]
    jmp 0x28:0
    jmp t32
align 4
p16: dd 0
    dw 0x38
"""


def _three_ways(boot):
    def fresh():
        return _guest(boot, *SWITCHER)

    fast = fresh()
    assert fast.run(2_000_000).reason == Stop.HALTED
    counted = fresh()
    counted._fast_on = False
    assert counted.run(2_000_000).reason == Stop.HALTED
    one = fresh()
    one._fast_on = False
    while one.icount < 400:
        one.run(1)
    while one.run(997).reason == Stop.BUDGET:   # (slices that end inside the switching blocks)
        pass
    return fast, counted, one


def test_switches_give_the_same_states_every_way(boot):
    fast, counted, one = _three_ways(boot)
    assert fast.icount == counted.icount == one.icount
    assert fast.state() == counted.state() == one.state()
    assert (_u(fast, 0x3000), _u(fast, 0x3004)) == (400, 200)
    st = fast.state()
    assert st.rbp == 0 and st.tr.selector == 0x28
    assert fast.fast_slices + fast.fast_redone > 0 or not blockcount.available()


def test_single_step_traps_after_the_switch_in_the_new_task(boot):
    # TF as the CALL begins: #DB (DR6.BS) after the switch, before the new task's first
    # instruction (QEMU's single-step at the end of the CALL's block).
    m = _guest(boot, "    IGATE 1\n", """
    pushfd
    or dword [esp], 0x100
    popfd
    call 0x30:0
h1: mov ebp, 1
    hlt
""")
    st = _halt(m)
    assert st.rbp == 1 and st.tr.selector == 0x30 and st.dr6 & 0x4000
    task32 = _u(m, st.rsp)
    assert m.mem.read_linear(task32, 1) == b"\xf4"          # (its first instruction: HLT)
