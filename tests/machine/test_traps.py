"""The Unicorn traps of unicorn-notes.md, each reproduced and shown handled by the machine."""
from __future__ import annotations

import pytest

from tests.conftest import GDT_PM, GDT_TAIL, SERIAL_PUTC, idt_gate


def test_layout_self_test_passes_and_refuses_other_versions(monkeypatch):
    import unicorn

    from debugger.machine import uc_layout

    eng = uc_layout.open_engine()
    assert eng.u32(uc_layout.OFF_HFLAGS) & 0x40           # ADDSEG in real mode
    monkeypatch.setattr(unicorn, "__version__", "2.1.3")
    with pytest.raises(uc_layout.LayoutError, match="2.1.4"):
        uc_layout.open_engine()


def test_real_mode_ip_beyond_64k_is_not_truncated(boot):
    # UC_MODE_16 would compute PC as selector*16 and truncate IP; m64r resumes anywhere.
    m = boot("""
    jmp 0:start
start: cli
    hlt
    """)
    m.run(1)
    st = m.state()
    assert (st.cs.selector, st.rip) == (0, 0x7C05)
    m.run(5)
    assert m.state().rip == 0x7C07


def test_nested_faults_are_not_promoted_to_double_fault(boot):
    # Unicorn never resets its nested-fault tracker (issue #1883): the 2nd #DE became #DF.
    m = boot("""
    xor ax, ax
    mov ds, ax
    mov word [0], de
    mov word [2], 0
    mov cx, 3
again: xor bl, bl
    mov ax, 1
    div bl
    loop again
    mov al, 'E'
    call putc
    cli
    hlt
de: push bp
    mov bp, sp
    add word [bp+2], 2        ; skip the 2-byte div
    pop bp
    mov al, '0'
    call putc
    iret
""" + SERIAL_PUTC)
    r = m.run(10_000)
    assert r.reason == "halted"
    assert m.serial == b"000E"
    assert [e.details["vector"] for e in m.events if e.kind == "exception"] == [0, 0, 0]


def test_int_and_int3_return_after_the_instruction_faults_at_it(boot):
    m = boot("""
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word [3*4], h
    mov word [3*4+2], 0
    mov word [0x40*4], h
    mov word [0x40*4+2], 0
    int3
    int 0x40
    cli
    hlt
h:  mov bp, sp
    mov ax, [bp]          ; return IP
    mov [0x500 + si], ax
    add si, 2
    iret
""")
    r = m.run(10_000)
    assert r.reason == "halted"
    ip1 = m.mem.read_u(0x500, 2)
    ip2 = m.mem.read_u(0x502, 2)
    code = m.mem.read_phys(0x7C00, 0x40)
    assert code[ip1 - 0x7C00 - 1] == 0xCC          # returned right after INT3
    assert code[ip2 - 0x7C00 - 2:ip2 - 0x7C00] == b"\xcd\x40"


def test_host_write_over_translated_code_takes_effect(boot):
    # Unicorn does not invalidate translated code on host writes (issue #2258).
    m = boot("""
target: mov al, 'A'
    call putc
    cli
    hlt
""" + SERIAL_PUTC)
    assert m.run(1000).reason == "halted"
    assert m.serial == b"A"
    m.mem.write_phys(0x7C01, b"B")                  # patch the immediate
    st = m.state()
    m.set_state(st.replace(rip=0x7C00, rflags=0x2))
    m.cpu.activity = type(st.activity).ACTIVE
    assert m.run(1000).reason == "halted"
    assert m.serial == b"AB"




def test_ltr_reports_busy_tss_like_hardware(boot):
    m = boot(GDT_PM + """
    mov ax, 0x28
    ltr ax
    hlt
""" + GDT_TAIL)
    m.run(1000)
    st = m.state()
    assert st.tr.selector == 0x28 and st.tr.type == 11      # QEMU's cache says 9 (available)
    assert not st.tr.unusable


def test_protected_mode_gp_with_error_code_and_ring3_to_ring0_via_tss(boot):
    m = boot(GDT_PM + """
    mov dword [tss + 4], 0x9800        ; ESP0
    mov dword [tss + 8], 0x10          ; SS0
    mov ax, 0x28
    ltr ax
    ; IDT entry 13: 32-bit interrupt gate -> 08:gp
""" + idt_gate(13, "gp") + """    lidt [idtr]
    ; drop to ring 3
    push dword 0x23
    push dword 0x8800
    push dword 0x202
    push dword 0x1b
    push dword ring3
    iretd
ring3:
    mov ax, 0x1234            ; selector beyond the GDT limit -> #GP(0x1234)
    mov ds, ax
    hlt
gp: mov esi, esp
    cli
    hlt
idtr: dw 256*8-1
    dd idt
""" + GDT_TAIL)
    r = m.run(10_000)
    assert r.reason == "halted", r
    st = m.state()
    assert st.cpl == 0 and st.ss.selector == 0x10 and st.cs.selector == 0x08
    frame = [m.mem.read_linear_u(st.rsi + 4 * i, 4) for i in range(6)]
    err, eip, cs, eflags, esp, ss = frame
    assert err == 0x1234 & 0xFFFC
    assert cs == 0x1B and ss == 0x23 and esp == 0x8800
    assert m.mem.read_phys(eip, 2) == b"\x8e\xd8"                # mov ds, ax
    assert eflags & 0x200


def test_vm86_int_with_iopl0_gp_to_ring0_with_segments_pushed_and_nulled(boot):
    m = boot(GDT_PM + """
    mov dword [tss + 4], 0x9800
    mov dword [tss + 8], 0x10
    mov ax, 0x28
    ltr ax
""" + idt_gate(13, "gp") + """    lidt [idtr]
    ; copy vm86 code to 0x8000
    mov esi, v86
    mov edi, 0x8000
    mov ecx, v86_end - v86
    rep movsb
    push dword 0x0000          ; GS
    push dword 0x0000          ; FS
    push dword 0x0050          ; DS
    push dword 0x0060          ; ES
    push dword 0x0700          ; SS
    push dword 0x0100          ; ESP
    push dword 0x20002         ; EFLAGS: VM, IOPL 0
    push dword 0x0800          ; CS
    push dword 0x0000          ; EIP
    iretd
gp: mov esi, esp
    cli
    hlt
v86: int 0x30
v86_end:
idtr: dw 256*8-1
    dd idt
""" + GDT_TAIL)
    r = m.run(10_000)
    assert r.reason == "halted", r
    st = m.state()
    assert not st.vm and st.cpl == 0
    assert all(getattr(st, n).selector == 0 and getattr(st, n).unusable
               for n in ("ds", "es", "fs", "gs"))
    frame = [m.mem.read_linear_u(st.rsi + 4 * i, 4) for i in range(10)]
    err, eip, cs, eflags, esp, ss, es, ds, fs, gs = frame
    assert (err, eip, cs) == (0, 0, 0x800)
    assert eflags & 0x20000
    assert (esp, ss, es, ds, fs, gs) == (0x100, 0x700, 0x60, 0x50, 0, 0)


def test_triple_fault_stops_with_a_report(boot):
    m = boot("""
    xor ax, ax
    mov ds, ax
    lidt [idtr]          ; IDT limit 0: every delivery faults
    int 0x21
    hlt
idtr: dw 0
    dd 0
""")
    r = m.run(1000)
    assert r.reason == "triple-fault"
    assert "triple fault" in r.message
    assert m.state().activity.name == "SHUTDOWN"
    assert m.run(10).reason == "triple-fault"         # stays dead, no exception


def test_sysenter_and_syscall_are_architectural(boot):
    m = boot(GDT_PM + """
    mov ecx, 0x174
    mov eax, 0x08
    xor edx, edx
    wrmsr
    mov ecx, 0x175
    mov eax, 0x9400
    wrmsr
    mov ecx, 0x176
    mov eax, entered
    wrmsr
    sysenter
    hlt
entered:
    mov [0x600], esp
    mov ecx, 0xC0000080
    rdmsr
    or eax, 1              ; EFER.SCE
    wrmsr
    mov ecx, 0xC0000081
    mov eax, sc_target
    mov edx, 0x00080008    ; STAR: SYSCALL CS = 0x08
    wrmsr
    syscall
    hlt
sc_target:
    mov [0x604], ecx
    cli
    hlt
""" + GDT_TAIL)
    r = m.run(10_000)
    assert r.reason == "halted", r
    assert m.mem.read_u(0x600, 4) == 0x9400
    ret = m.mem.read_u(0x604, 4)
    assert m.mem.read_phys(ret - 2, 2) == b"\x0f\x05"   # ECX = address after SYSCALL
    assert m.state().cs.selector == 0x08


def test_hflags_recomputed_equal_qemus_own(boot):
    m = boot(GDT_PM + """
    mov ax, 0x28
    ltr ax
    hlt
""" + GDT_TAIL)
    seen = 0
    while True:
        r = m.run(1)
        hf = m.cpu.hflags
        m.cpu.update_hflags()
        assert m.cpu.hflags == hf, f"hflags {hf:#x} recomputed as {m.cpu.hflags:#x}"
        seen += 1
        if r.reason != "budget":
            break
    assert seen > 10


def test_state_write_read_roundtrip_and_determinism(boot):
    src = GDT_PM + "    mov eax, 0x12345678\n    hlt\n" + GDT_TAIL
    a, b = boot(src), boot(src)
    a.run(1000), b.run(1000)
    assert a.state() == b.state() and a.state().digest() == b.state().digest()
    st = a.state()
    a.set_state(st)
    assert a.state() == st


def test_long_mode_page_fault_through_64bit_idt(boot):
    m = boot("""
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7000
    ; page tables at 0x10000: PML4 -> PDPT -> PD (one 2 MiB page at 0)
    mov ax, 0x1000
    mov es, ax
    mov dword [es:0x0000], 0x11003
    mov dword [es:0x1000], 0x12003
    mov dword [es:0x2000], 0x83
    xor ax, ax
    mov es, ax
    mov eax, 0x20           ; PAE
    mov cr4, eax
    mov eax, 0x10000
    mov cr3, eax
    mov ecx, 0xC0000080
    rdmsr
    or eax, 0x100           ; LME
    wrmsr
    lgdt [gdtr]
    mov eax, cr0
    or eax, 0x80000001
    mov cr0, eax
    jmp 0x08:lm
bits 64
lm: mov ax, 0x10
    mov ds, ax
    mov ss, ax
    mov rsp, 0x9000
    ; IDT entry 14 at 0x3000 (16-byte gate)
    mov rax, pf
    mov [0x3000 + 14*16], ax
    mov word [0x3000 + 14*16 + 2], 0x08
    mov word [0x3000 + 14*16 + 4], 0x8e00
    shr rax, 16
    mov [0x3000 + 14*16 + 6], ax
    lidt [idtr]
    mov rax, [0x40000000]   ; not mapped -> #PF
    hlt
pf: mov rsi, rsp
    cli
    hlt
align 8
gdt: dq 0
    dq 0x00af9a000000ffff
    dq 0x00cf92000000ffff
gdtr: dw gdtr - gdt - 1
    dq gdt
idtr: dw 256*16-1
    dq 0x3000
""")
    r = m.run(10_000)
    assert r.reason == "halted", r
    st = m.state()
    assert st.mode.value == "long"
    assert st.cr2 == 0x40000000
    err = m.mem.read_linear_u(st.rsi, 8)
    rip = m.mem.read_linear_u(st.rsi + 8, 8)
    assert err == 0                                   # not-present, read, supervisor
    assert m.mem.read_phys(rip, 3)[:2] == b"\x48\x8b"  # the faulting mov rax, [...]
    assert m.mem.read_linear_u(st.rsi + 16, 8) == 0x08
