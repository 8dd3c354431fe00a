"""INT 15h through boot code: E820 walk, E801/88h/C0h, the A20 gate, wait, unsupported calls."""
from __future__ import annotations

from debugger.cpustate import RF_CF

from tests.machine.bios.conftest import HALT, RESULTS, machine, make_disk, run_to_halt, words

SETUP = """
    xor ax, ax
    mov ds, ax
    mov es, ax
"""


def test_e820_full_walk_matches_the_configured_ram():
    d = make_disk(SETUP + """
    xor ebx, ebx
    mov di, 0x1000
    xor si, si
next:
    mov eax, 0xe820
    mov ecx, 24
    mov edx, 0x534d4150
    int 0x15
    jc fail
    cmp eax, 0x534d4150
    jne fail
    mov [0x604], cx
    inc si
    add di, 24
    test ebx, ebx
    jnz next
    mov [0x600], si
    mov eax, 0xe820           ; a 20-byte request gets 20-byte entries
    mov ecx, 20
    mov edx, 0x534d4150
    xor ebx, ebx
    mov di, 0x2000
    int 0x15
    mov [0x606], cx
    mov [0x608], ebx
    mov eax, 0xe820           ; wrong signature: CF
    xor edx, edx
    mov ecx, 20
    int 0x15
    pushf
    pop word [0x60c]
""" + HALT + """
fail: mov word [0x602], 0xdead
""" + HALT)
    m = machine(d, ram_size=128 << 20)
    run_to_halt(m)
    r = words(m, RESULTS, 7)
    assert r[1] == 0 and r[0] == 6 and r[2] == 24 and r[3] == 20
    assert r[4] == 1 and r[6] & RF_CF
    entries = []
    for i in range(6):
        e = m.mem.read_phys(0x1000 + 24 * i, 24)
        entries.append((int.from_bytes(e[0:8], "little"), int.from_bytes(e[8:16], "little"),
                        int.from_bytes(e[16:20], "little"), int.from_bytes(e[20:24], "little")))
    assert entries == [(0, 0x9FC00, 1, 1), (0x9FC00, 0x400, 2, 1), (0xF0000, 0x10000, 2, 1),
                       (0x100000, (128 << 20) - 0x120000, 1, 1), ((128 << 20) - 0x20000, 0x20000, 2, 1),
                       (0xFFFC0000, 0x40000, 2, 1)]


def test_e801_88_and_configuration_table():
    d = make_disk(SETUP + """
    mov ax, 0xe801
    int 0x15
    mov [0x600], ax
    mov [0x602], bx
    mov [0x604], cx
    mov [0x606], dx
    mov ah, 0x88
    int 0x15
    mov [0x608], ax
    mov ah, 0xc0
    int 0x15
    pushf
    pop word [0x60a]
    mov [0x60c], bx
    mov [0x60e], es
    mov al, [es:bx+2]
    mov [0x610], al
""" + HALT)
    m = machine(d, ram_size=64 << 20)
    run_to_halt(m)
    r = words(m, RESULTS, 9)
    assert r[0:4] == [0x3C00, (48 << 20) >> 16, 0x3C00, (48 << 20) >> 16]
    assert r[4] == 63 * 1024
    assert not r[5] & RF_CF and (r[7], r[6]) == (0xF000, 0xE6F5)
    assert r[8] & 0xFF == 0xFC                                       # model byte


def test_a20_gate_disable_wraps_and_enable_does_not():
    d = make_disk(SETUP + """
    mov ax, 0x2400
    int 0x15
    mov [0x600], ax
    mov ax, 0x2402
    int 0x15
    mov [0x602], ax
    mov ax, 0xffff
    mov es, ax
    mov word [0x500], 0
    mov word [es:0x510], 0x1234      ; FFFF:0510 = 0x100500, wraps to 0x500
    mov ax, [0x500]
    mov [0x604], ax
    mov ax, 0x2401
    int 0x15
    mov ax, 0x2402
    int 0x15
    mov [0x606], ax
    mov word [es:0x510], 0x5678      ; now really at 0x100500
    mov ax, [0x500]
    mov [0x608], ax
    mov ax, 0x2403
    int 0x15
    mov [0x60a], bx
""" + HALT)
    m = machine(d)
    run_to_halt(m)
    r = words(m, RESULTS, 6)
    assert r[0] >> 8 == 0 and r[1] == 0x0000          # AH=0; AL=0: disabled
    assert r[2] == 0x1234
    assert r[3] == 0x0001 and r[4] == 0x1234
    assert m.mem.read_phys(0x100500, 2) == b"\x78\x56"
    assert r[5] == 3 and m.cpu.a20
    assert [e.details["enabled"] for e in m.events if e.kind == "a20"][:2] == [False, True]


def test_wait_advances_virtual_time_not_the_instruction_count():
    d = make_disk(SETUP + """
    mov ah, 0x86
    mov cx, 0x000f
    mov dx, 0x4240                   ; 1,000,000 microseconds
    int 0x15
    pushf
    pop word [0x600]
""" + HALT)
    m = machine(d)
    run_to_halt(m)
    assert not words(m, RESULTS, 1)[0] & RF_CF
    assert m.icount < 100
    assert m.clock.icount - m.icount >= 10**9 // m.config.ns_per_insn


def test_block_move_copies_between_gdt_addresses():
    d = make_disk(SETUP + """
    mov dword [0x3000], 0x11223344
    mov ah, 0x87
    mov cx, 2                        ; words
    mov si, gdt
    int 0x15
    pushf
    pop word [0x600]
    mov [0x602], ax
""" + HALT + """
align 8
gdt: dq 0, 0
     dw 0xffff, 0x3000
     db 0x00, 0x93, 0, 0x00          ; source 0x003000
     dw 0xffff, 0x0000
     db 0x20, 0x93, 0, 0x00          ; destination 0x200000
     dq 0, 0
""")
    m = machine(d)
    run_to_halt(m)
    r = words(m, RESULTS, 2)
    assert not r[0] & RF_CF and r[1] >> 8 == 0
    assert m.mem.read_phys(0x200000, 4) == (0x11223344).to_bytes(4, "little")


def test_unsupported_function_is_an_event_with_cf_and_86h():
    d = make_disk(SETUP + """
    mov ax, 0x5300                   ; APM installation check
    xor bx, bx
    int 0x15
    pushf
    pop word [0x600]
    mov [0x602], ax
""" + HALT)
    m = machine(d)
    run_to_halt(m)
    r = words(m, RESULTS, 2)
    assert r[0] & RF_CF and r[1] >> 8 == 0x86
    ev = [e for e in m.events if e.kind == "bios-unknown"]
    assert len(ev) == 1 and ev[0].details == {"vector": 0x15, "ax": 0x5300}
