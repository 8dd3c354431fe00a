"""Interrupts and exceptions through a task gate in the IDT (machine/taskswitch.py): the state after
the switch as bootdbg shows it (TR and descriptor caches, busy bits, back link, NT, CR0.TS, the
outgoing task saved in its TSS), the error code on the new task's stack, the gate and TSS checks
with their faults, faults in the new task's context, the T bit, CR3, and IRET (NT=1) back.

Before task gates were implemented, every one of these stopped the run as `unsupported`.  The
same behaviour against QEMU 7.2 and Bochs: images/conformance/taskgate.asm.
"""
from __future__ import annotations

import pytest

from debugger.cpustate import Activity

MAIN, T32, T16, LDT = 0x2000, 0x2100, 0x2200, 0x2300

# Flat PM32 (CS 08, DS/ES/FS/GS/SS 10, ESP 9000), TR = 28h (main TSS at 2000h), IDT at 1000h
# (256 entries, zeroed), a 32-bit TSS at 2100h (selector 30h: EIP task32, ESP 6800h, DS 04h in
# the LDT 40h, EAX..EDI A0000000h+i) and a 16-bit one at 2200h (selector 38h: IP task16, SS 50h
# a 16-bit data segment, SP 6000h, AX..DI 1600h+i).  Interrupt gates 10..14 go to `hN`, which
# halt with EBP = N.  `setup` runs next, then `body`.
PRELUDE = """
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7000
    mov ax, 0x0208              ; the rest of the guest (8 sectors) to 7E00h
    mov cx, 0x0002
    xor dh, dh
    mov bx, 0x7e00
    int 0x13
    jmp 0:stage2
    times 510-($-$$) db 0
    dw 0xaa55
stage2:
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm
bits 32
pm: mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, 0x9000
    mov edi, 0x1000
    xor eax, eax
    mov ecx, (0x800 + 0x1400) / 4
    rep stosd
    lidt [idtr]
    mov ax, 0x28
    ltr ax
    mov dword [0x2100 + 0x20], task32
    mov dword [0x2100 + 0x24], 2
    mov edi, 0x2100 + 0x28
    mov eax, 0xA0000000
    mov ecx, 8
.r: stosd
    inc eax
    loop .r
    mov dword [0x2100 + 0x38], 0x6800
    mov dword [0x2100 + 0x48], 0x10
    mov dword [0x2100 + 0x4c], 0x08
    mov dword [0x2100 + 0x50], 0x10
    mov dword [0x2100 + 0x54], 0x04
    mov dword [0x2100 + 0x58], 0x10
    mov dword [0x2100 + 0x5c], 0x10
    mov dword [0x2100 + 0x60], 0x40
    mov word [0x2200 + 0x0e], task16
    mov word [0x2200 + 0x10], 2
    mov edi, 0x2200 + 0x12
    mov ax, 0x1600
    mov ecx, 8
.s: stosw
    inc ax
    loop .s
    mov word [0x2200 + 0x1a], 0x6000
    mov dword [0x2200 + 0x22], 0x00080010
    mov dword [0x2200 + 0x26], 0x00100050
    mov dword [0x2300], 0x0000ffff
    mov dword [0x2304], 0x00cf9200
    IGATE 10
    IGATE 11
    IGATE 12
    IGATE 13
    IGATE 14
    mov eax, 0x11111111
    mov ebx, 0x22222222
"""
MACROS = """
%macro IGATE 1
    mov eax, h%1
    mov [0x1000 + %1*8], ax
    mov word [0x1000 + %1*8 + 2], 0x08
    mov word [0x1000 + %1*8 + 4], 0x8e00
    shr eax, 16
    mov [0x1000 + %1*8 + 6], ax
%endmacro
%macro TGATE 3                  ; vector, TSS selector, attribute byte
    mov dword [0x1000 + %1*8], %2 << 16
    mov dword [0x1000 + %1*8 + 4], %3 << 8
%endmacro
"""
TAIL = """
task32:
    hlt
    iretd
    jmp task32
task16:
    hlt
    iretd
    jmp task16
h10:
    mov ebp, 10
    hlt
h11:
    mov ebp, 11
    hlt
h12:
    mov ebp, 12
    hlt
h13:
    mov ebp, 13
    hlt
h14:
    mov ebp, 14
    hlt
align 8
gdt: dq 0
    dq 0x00cf9a000000ffff       ; 08 code0
    dq 0x00cf92000000ffff       ; 10 data0
    dq 0x00cffa000000ffff       ; 18 code3
    dq 0x00cff2000000ffff       ; 20 data3
    dw 0x67, 0x2000, 0x8900, 0  ; 28 main TSS
    dw 0x67, 0x2100, 0x8900, 0  ; 30 32-bit TSS
    dw 0x2b, 0x2200, 0x8100, 0  ; 38 16-bit TSS
    dw 0x0f, 0x2300, 0x8200, 0  ; 40 LDT
    dq 0x00cf12000000ffff       ; 48 data, not present
    dq 0x000092000000ffff       ; 50 data, 16-bit
    dq 0x00409a00000000ff       ; 58 code0, limit FFh
gdtr: dw gdtr - gdt - 1
    dd gdt
idtr: dw 0x7ff
    dd 0x1000
"""


def _guest(boot, setup: str, body: str):
    m = boot("bits 16\norg 0x7c00\n" + MACROS + PRELUDE + setup + body + TAIL)
    return m


def _halt(m, budget: int = 20_000):
    r = m.run(budget)
    assert r.reason == "halted", r
    return m.state()


def _resume(m) -> None:
    m.cpu.activity = Activity.ACTIVE


def _desc_type(m, sel: int) -> int:
    gdt = m.state().gdtr.base
    return m.mem.read_linear(gdt + sel + 5, 1)[0] & 0xF


def _u(m, addr: int, size: int = 4) -> int:
    return m.mem.read_linear_u(addr, size)


def test_int_n_through_task_gate_switches_nests_and_iret_returns(boot):
    m = _guest(boot, "    TGATE 0x50, 0x30, 0x85\n", """
    pushfd
    or dword [esp], 0x0c5       ; CF PF ZF SF: the saved EFLAGS
    popfd
back_at:
    int 0x50
    hlt
""")
    st = _halt(m)
    # The new task, as the debugger shows it.
    assert st.tr.selector == 0x30 and st.tr.base == T32 and st.tr.limit == 0x67
    assert st.tr.type == 11 and not st.tr.unusable
    assert _desc_type(m, 0x30) == 0xB and _desc_type(m, 0x28) == 0xB     # both busy: nested
    assert _u(m, T32, 2) == 0x28                                          # back link
    assert st.rflags & 0x4000 and st.cr0 & 8                              # NT, CR0.TS
    assert st.cs.selector == 8 and st.cs.base == 0 and st.cs.limit == 0xFFFFFFFF \
        and st.cs.ar & 0xFE == 0x9A
    assert st.ss.selector == 0x10 and st.ss.ar & 0xFE == 0x92 and st.ss.db
    assert st.ldtr.selector == 0x40 and st.ldtr.base == LDT and st.ldtr.limit == 0xF \
        and st.ldtr.type == 2
    assert st.ds.selector == 4 and st.ds.limit == 0xFFFFFFFF and not st.ds.unusable
    assert (st.rax, st.rbx, st.rsp, st.rdi) == (0xA0000000, 0xA0000003, 0x6800, 0xA0000007)
    task32 = st.rip - 1
    # The outgoing task in its TSS: EIP after the INT, EFLAGS as they were, the registers.
    int_at = _u(m, MAIN + 0x20)
    assert m.mem.read_linear(int_at - 2, 2) == b"\xcd\x50"
    assert _u(m, MAIN + 0x24) & 0xFFFF == 0x0C7
    assert (_u(m, MAIN + 0x28), _u(m, MAIN + 0x34), _u(m, MAIN + 0x38)) == \
        (0x11111111, 0x22222222, 0x9000)
    assert [_u(m, MAIN + 0x48 + 4 * i, 2) for i in range(6)] == [0x10, 8, 0x10, 0x10, 0x10, 0x10]
    # IRETD (NT=1): back to the main task; the task's own TSS keeps where it stopped.
    _resume(m)
    st = _halt(m)
    assert st.tr.selector == 0x28 and st.rip == int_at + 1
    assert _desc_type(m, 0x30) == 0x9 and _desc_type(m, 0x28) == 0xB
    assert not st.rflags & 0x4000 and st.rflags & 0xFFF == 0x0C7
    assert (st.rax, st.rbx, st.rsp) == (0x11111111, 0x22222222, 0x9000)
    assert st.ldtr.selector == 0 and st.ds.selector == 0x10
    assert _u(m, T32 + 0x20) == task32 + 2            # after its IRETD
    assert not _u(m, T32 + 0x24) & 0x4000             # NT cleared in the saved image


@pytest.mark.parametrize("sixteen", [False, True], ids=["tss32", "tss16"])
def test_exception_pushes_its_error_code_on_the_new_tasks_stack(boot, sixteen):
    vector, sel, bad = (11, 0x38, 0x48) if sixteen else (13, 0x30, 0x7FF8)
    m = _guest(boot, f"    TGATE {vector}, {sel}, 0x85\n", f"""
    mov esp, 0x12349000
    mov ax, {bad}
    mov ds, ax
    hlt
""")
    st = _halt(m)
    if sixteen:
        # A word, on the 16-bit stack SS:SP (SS 50h, B=0); the upper halves of the registers
        # are FFFFh (the SDM: "modified"; Bochs sets FFFFh, QEMU 7.2 keeps them).
        assert st.tr.selector == 0x38 and st.tr.type == 3 and st.tr.limit == 0x2B
        assert st.ss.selector == 0x50 and not st.ss.db
        assert st.rsp == 0xFFFF5FFE and _u(m, 0x5FFE, 2) == 0x48
        assert st.rax == 0xFFFF1600 and st.rflags & 0x4000
        assert st.fs.selector == 0 and st.gs.selector == 0 and st.ldtr.selector == 0
        assert _u(m, T16, 2) == 0x28
    else:
        assert st.tr.selector == 0x30 and st.rsp == 0x67FC and _u(m, 0x67FC) == 0x7FF8
    # The faulting instruction is what the old task saved (a fault returns to it).
    assert m.mem.read_linear(_u(m, MAIN + 0x20), 2) == b"\x8e\xd8"
    assert _u(m, MAIN + 0x38) == 0x12349000


def test_irq_through_task_gate_from_hlt(boot):
    m = _guest(boot, "    TGATE 0x20, 0x30, 0x85\n", """
    mov al, 0x11
    out 0x20, al
    mov al, 0x20
    out 0x21, al
    mov al, 4
    out 0x21, al
    mov al, 1
    out 0x21, al
    mov al, 0xfe
    out 0x21, al
    mov al, 0x30
    out 0x43, al
    mov al, 100
    out 0x40, al
    xor al, al
    out 0x40, al
    sti
    hlt
after_hlt:
    hlt
""")
    st = _halt(m, 200_000)
    assert st.tr.selector == 0x30 and st.rflags & 0x4000 and not st.rflags & 0x200
    saved = _u(m, MAIN + 0x20)
    assert m.mem.read_linear(saved - 1, 1) == b"\xf4" and _u(m, MAIN + 0x24) & 0x200


def test_software_int_checks_the_task_gates_dpl(boot):
    """From ring 3: a DPL-0 task gate is #GP(vector*8+2) (to ring 0 through the TSS's ESP0); a
    DPL-3 one switches (to the new task's ring 0)."""
    body = """
    mov dword [0x2000 + 4], 0x9800
    mov dword [0x2000 + 8], 0x10
    push dword 0x23
    push dword 0x5800
    push dword 0x2
    push dword 0x1b
    push dword ring3
    iretd
ring3:
    int 0x50
    hlt
"""
    m = _guest(boot, "    TGATE 0x50, 0x30, 0x85\n", body)
    st = _halt(m)
    assert st.rbp == 13 and st.tr.selector == 0x28 and _u(m, st.rsp) == 0x50 * 8 + 2
    assert _u(m, st.rsp + 8) == 0x1B
    m = _guest(boot, "    TGATE 0x50, 0x30, 0xE5\n", body)
    st = _halt(m)
    assert st.tr.selector == 0x30 and st.cpl == 0 and st.rsp == 0x6800
    assert _u(m, MAIN + 0x4C, 2) == 0x1B and _u(m, MAIN + 0x50, 2) == 0x23


# (setup, vector, error code, switched): each check of the gate and of the new TSS.  A fault
# before the switch comes in the old task (TR 28h); one while loading the new task's segments
# comes in the new one (TR 30h), on its stack.
FAULTS = {
    "gate TSS selector in the LDT: #GP": ("    TGATE 0x50, 0x34, 0x85\n", 13, 0x34, False),
    "gate not present: #NP(vector)": ("    TGATE 0x50, 0x30, 0x05\n", 11, 0x282, False),
    "TSS busy: #GP": ("    TGATE 0x50, 0x28, 0x85\n", 13, 0x28, False),
    "not a TSS: #GP": ("    TGATE 0x50, 0x10, 0x85\n", 13, 0x10, False),
    "TSS not present: #NP": ("    TGATE 0x50, 0x30, 0x85\n    and byte [gdt + 0x35], 0x7f\n",
                             11, 0x30, False),
    "TSS limit below 67h: #TS": ("    TGATE 0x50, 0x30, 0x85\n    mov byte [gdt + 0x30], 0x60\n",
                                 10, 0x30, False),
    "LDT selector with TI: #TS": ("    TGATE 0x50, 0x30, 0x85\n    mov word [0x2160], 0x44\n",
                                  10, 0x44, True),
    "LDT selector not an LDT: #TS": ("    TGATE 0x50, 0x30, 0x85\n    mov word [0x2160], 0x10\n",
                                     10, 0x10, True),
    "null CS: #TS": ("    TGATE 0x50, 0x30, 0x85\n    mov word [0x214c], 0\n", 10, 0, True),
    "CS a data segment: #TS": ("    TGATE 0x50, 0x30, 0x85\n    mov word [0x214c], 0x10\n",
                               10, 0x10, True),
    "SS not present: #SS": ("    TGATE 0x50, 0x30, 0x85\n    mov word [0x2150], 0x48\n",
                            12, 0x48, True),
    "SS of another DPL: #TS": ("    TGATE 0x50, 0x30, 0x85\n    mov word [0x2150], 0x23\n",
                               10, 0x20, True),
    "DS not present: #NP": ("    TGATE 0x50, 0x30, 0x85\n    mov word [0x2154], 0x48\n",
                            11, 0x48, True),
    "DS beyond the LDT: #TS": ("    TGATE 0x50, 0x30, 0x85\n    mov word [0x2154], 0x14\n",
                               10, 0x14, True),
    "DS a null descriptor: #TS": ("    TGATE 0x50, 0x30, 0x85\n    mov word [0x2154], 0x0c\n",
                                  10, 0x0C, True),
    "EIP beyond CS's limit: #GP(0)": ("    TGATE 0x50, 0x30, 0x85\n    mov word [0x214c], 0x58\n"
                                      "    mov dword [0x2120], 0x100\n", 13, 0, True),
}


@pytest.mark.parametrize("case", list(FAULTS))
def test_task_gate_and_task_switch_faults(boot, case):
    setup, vector, code, switched = FAULTS[case]
    m = _guest(boot, setup, "    int 0x50\n    hlt\n")
    st = _halt(m)
    assert st.rbp == vector, (case, st.rbp)
    assert _u(m, st.rsp) == code
    assert st.tr.selector == (0x30 if switched else 0x28)
    if switched:
        # The new task's fault: on its stack, returning to its first instruction; the outgoing
        # task is saved and the new one marked busy, as on a CPU.
        assert st.rsp == 0x6800 - 16 and _u(m, st.rsp + 4) == _u(m, T32 + 0x20)
        assert _desc_type(m, 0x30) == 0xB and _u(m, T32, 2) == 0x28
    else:
        # Nothing changed: the fault returns to the INT, on the old task's stack.
        assert st.rsp == 0x9000 - 16 and _u(m, T32, 2) == 0 and _u(m, MAIN + 0x20) == 0
        assert m.mem.read_linear(_u(m, st.rsp + 4), 2) == b"\xcd\x50"


def test_fault_raised_by_an_irq_through_a_task_gate_has_ext(boot):
    m = _guest(boot, "    TGATE 0x20, 0x30, 0x85\n    and byte [gdt + 0x35], 0x7f\n", """
    mov al, 0x11
    out 0x20, al
    mov al, 0x20
    out 0x21, al
    mov al, 4
    out 0x21, al
    mov al, 1
    out 0x21, al
    mov al, 0xfe
    out 0x21, al
    mov al, 0x30
    out 0x43, al
    mov al, 100
    out 0x40, al
    xor al, al
    out 0x40, al
    sti
    hlt
    hlt
""")
    st = _halt(m, 200_000)
    assert st.rbp == 11 and _u(m, st.rsp) == 0x31 and st.tr.selector == 0x28


def test_t_bit_raises_db_before_the_new_tasks_first_instruction(boot):
    m = _guest(boot, "    TGATE 0x50, 0x30, 0x85\n    mov word [0x2164], 1\n"
                     "    mov eax, h_db\n    mov [0x1008], ax\n    mov word [0x100a], 8\n"
                     "    mov word [0x100c], 0x8e00\n    shr eax, 16\n    mov [0x100e], ax\n",
               "    int 0x50\n    hlt\nh_db:\n    mov ebp, 1\n    hlt\n")
    st = _halt(m)
    assert st.rbp == 1 and st.tr.selector == 0x30 and st.dr6 & 0x8000
    assert _u(m, st.rsp) == _u(m, T32 + 0x20)                       # task32's first HLT
    assert m.mem.read_linear(_u(m, st.rsp), 1) == b"\xf4"
    assert _u(m, st.rsp + 8) & 0x4000                               # NT in the image


def test_task_switch_loads_cr3_with_paging_on(boot):
    from tests.conftest import PAGING_ON, PAGING_TABLES

    # The new task's directory (13000h) maps linear 400000h to physical 0 (its own 4 MiB table
    # 12000h is the identity table copied); the old one leaves 400000h unmapped.
    setup = "    TGATE 0x50, 0x30, 0x85\n" + PAGING_TABLES + PAGING_ON + """
    mov esi, 0x10000
    mov edi, 0x13000
    mov ecx, 1024
    rep movsd
    mov dword [0x13004], 0x11003
    mov dword [0x211c], 0x13000
    mov dword [0x201c], 0x10000
"""
    m = _guest(boot, setup, "    int 0x50\n    hlt\n")
    st = _halt(m)
    assert st.tr.selector == 0x30 and st.cr3 == 0x13000
    assert m.mem.read_linear(0x400000 + st.rip - 1, 1) == b"\xf4"
    _resume(m)
    st = _halt(m)
    # IRET (Unicorn's own task switch) loads the main task's CR3 from its TSS.
    assert st.tr.selector == 0x28 and st.cr3 == 0x10000


def test_fault_without_error_code_through_a_task_gate(boot):
    m = _guest(boot, "    TGATE 6, 0x30, 0x85\n", "    ud2\n    hlt\n")
    st = _halt(m)
    assert st.tr.selector == 0x30 and st.rsp == 0x6800 and st.rflags & 0x4000
    assert m.mem.read_linear(_u(m, MAIN + 0x20), 2) == b"\x0f\x0b"      # saved EIP: the UD2


def test_call_and_jmp_to_a_tss_show_the_new_tasks_caches(boot):
    """CALL/JMP/IRET task switches are Unicorn's own helpers: the state bootdbg reads after them
    is the new task's (TR, LDTR and segment caches, busy bits, NT, back link)."""
    m = _guest(boot, "", "    call 0x30:0\n    hlt\n    jmp 0x30:0\n    hlt\n")
    st = _halt(m)
    assert (st.tr.selector, st.tr.base, st.tr.limit, st.tr.type) == (0x30, T32, 0x67, 11)
    assert (st.ldtr.selector, st.ldtr.base, st.ldtr.limit, st.ldtr.type) == (0x40, LDT, 0xF, 2)
    assert st.ds.selector == 4 and st.ds.limit == 0xFFFFFFFF and st.rsp == 0x6800
    assert st.rflags & 0x4000 and st.cr0 & 8 and _u(m, T32, 2) == 0x28
    assert _desc_type(m, 0x28) == 0xB and _desc_type(m, 0x30) == 0xB
    _resume(m)
    st = _halt(m)                                   # IRETD: back after the CALL
    assert (st.tr.selector, st.tr.base, st.ldtr.selector) == (0x28, MAIN, 0)
    assert _desc_type(m, 0x30) == 0x9
    _resume(m)
    st = _halt(m)                                   # JMP: the task again, not nested
    assert st.tr.selector == 0x30 and not st.rflags & 0x4000 and st.ldtr.base == LDT
    assert _desc_type(m, 0x28) == 0x9 and _desc_type(m, 0x30) == 0xB
