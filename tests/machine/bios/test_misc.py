"""INT 11h/12h/18h/19h/1Ah, unknown services, exceptions reaching the BIOS's dummy handlers."""
from __future__ import annotations

from debugger.cpustate import RF_CF

from tests.machine.bios.conftest import HALT, RESULTS, machine, make_disk, run_to_halt, words


def test_equipment_and_memory_size():
    m = machine(make_disk("""
    int 0x11
    mov [0x600], ax
    int 0x12
    mov [0x602], ax
""" + HALT))
    run_to_halt(m)
    eq, kb = words(m, RESULTS, 2)
    assert eq & 1 and (eq >> 6) & 3 == 0 and (eq >> 4) & 3 == 2      # 1 floppy, 80x25 colour
    assert kb == 639


def test_int18_ends_the_run_with_boot_failed():
    m = machine(make_disk("""
    int 0x18
""" + HALT))
    r = m.run(10_000)
    assert r.reason == "boot-failed" and "0000:7C02" in r.message
    assert any(e.kind == "boot-failed" for e in m.events)


def test_int19_reloads_and_reruns_the_boot_sector():
    m = machine(make_disk("""
    xor ax, ax
    mov ds, ax
    inc word [0x600]
    mov [0x602], dl
    mov byte [0x7c00], 0xf4   ; the reload must undo this
    cmp word [0x600], 2
    jae done
    int 0x19
done:
""" + HALT))
    run_to_halt(m)
    assert words(m, RESULTS, 2) == [2, 0]
    assert m.mem.read_phys(0x7C00, 1) == b"\xf4"


def test_unknown_vector_and_function_are_events_with_cf():
    m = machine(make_disk("""
    clc
    mov ax, 0x1234
    int 0x60                  ; nothing there
    pushf
    pop word [0x600]
    mov ah, 0x77
    clc
    int 0x10
    pushf
    pop word [0x602]
""" + HALT))
    run_to_halt(m)
    f1, f2 = words(m, RESULTS, 2)
    assert f1 & RF_CF and f2 & RF_CF
    ev = [(e.details["vector"], e.details["ax"]) for e in m.events if e.kind == "bios-unknown"]
    assert ev == [(0x60, 0x1234), (0x10, 0x7734)]


def test_unhandled_divide_error_stops_with_vector_and_address():
    m = machine(make_disk("""
    int 0                     ; a software INT 0 returns normally
    xor bl, bl
    mov ax, 1
    div bl
""" + HALT))
    r = m.run(10_000)
    assert r.reason == "halted" and "#DE" in r.message and "0000:7C07" in r.message, r.message
    ev = [e for e in m.events if e.kind == "unhandled-exception"]
    assert len(ev) == 1 and ev[0].details["vector"] == 0 and ev[0].details["ip"] == 0x7C07


def test_print_screen_vector_returns():
    m = machine(make_disk("""
    int 5
    mov word [0x600], 0x55
""" + HALT))
    run_to_halt(m)
    assert words(m, RESULTS, 1) == [0x55]


def test_data_vectors_point_at_tables_not_stubs():
    m = machine(make_disk(HALT))
    ivt = lambda v: int.from_bytes(m.mem.read_phys(4 * v, 4), "little")   # noqa: E731
    assert ivt(0x1E) == 0xF000EFC7 and ivt(0x1D) == 0xF000F0A4
    assert ivt(0x41) == 0 and ivt(0x46) == 0 and ivt(0x1F) == 0         # no hard disk
    dpt = m.mem.read_phys(0xFEFC7, 11)
    assert dpt[3] == 2 and dpt[4] == 18


def test_fixed_disk_table_for_int41():
    d = make_disk(HALT, kind="hd", size=10 * 16 * 63 * 512)
    m = machine(d)
    ptr = int.from_bytes(m.mem.read_phys(4 * 0x41, 4), "little")
    t = m.mem.read_phys(((ptr >> 16) << 4) + (ptr & 0xFFFF), 16)
    assert int.from_bytes(t[0:2], "little") == 10 and t[2] == 16 and t[14] == 63
    assert m.mem.read_u(0x475, 1) == 1


def test_int1a_ticks_follow_the_timer():
    m = machine(make_disk("""
    xor ax, ax
    mov ds, ax
    sti
    xor ah, ah
    int 0x1a
    mov [0x600], dx
    mov [0x602], cx
    mov cx, 5
pause: hlt                    ; each timer tick wakes us
    loop pause
    xor ah, ah
    int 0x1a
    mov [0x604], dx
    mov [0x606], cx
    mov ah, 2
    int 0x1a
    pushf
    pop word [0x608]
    mov [0x60a], cx
    mov [0x60c], dx
""" + HALT))
    r = m.run(1_000_000)
    assert r.reason == "halted", r.message
    w = words(m, RESULTS, 7)
    before, after = (w[1] << 16) | w[0], (w[3] << 16) | w[2]
    assert after - before == 5
    assert not w[4] & RF_CF
    h, mi, s = w[5] >> 8, w[5] & 0xFF, w[6] >> 8
    assert all((v & 0xF) < 10 for v in (h, mi, s))                      # BCD
