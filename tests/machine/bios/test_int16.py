"""INT 16h with scripted keys: IRQ1 -> INT 09h -> BDA buffer -> INT 16h, waiting, no input."""
from __future__ import annotations

from debugger.cpustate import RF_ZF

from tests.machine.bios.conftest import HALT, RESULTS, machine, make_disk, words

READ3 = """
    xor ax, ax
    mov ds, ax
    sti
    mov di, 0x600
    mov cx, 3
again:
    xor ah, ah
    int 0x16
    mov [di], ax
    add di, 2
    loop again
    mov ah, 1
    int 0x16
    pushf
    pop word [di]
    add di, 2
    xor ah, ah                ; nothing more is scripted: the run must end here
    int 0x16
    mov word [di], 0xdead
""" + HALT


def test_scripted_keys_reach_int16_and_waiting_with_no_input_stops():
    m = machine(make_disk(READ3), keys="aB\r")
    r = m.run(2_000_000)
    assert r.reason == "halted" and "waiting for a key" in r.message, r.message
    assert "no input is scripted" in r.message
    got = words(m, RESULTS, 5)
    assert got[:3] == [0x1E61, 0x3042, 0x1C0D]          # Shift+b through the shift flags
    assert got[3] & RF_ZF                                 # AH=01h: buffer empty
    assert got[4] != 0xDEAD


def test_waiting_for_a_key_with_nothing_scripted_stops_at_once():
    m = machine(make_disk("""
    sti
    xor ah, ah
    int 0x16
""" + HALT))
    r = m.run(100_000)
    assert r.reason == "halted" and "waiting for a key (INT 16h AH=00h" in r.message
    assert r.icount < 10


def test_store_keystroke_and_shift_flags():
    m = machine(make_disk("""
    xor ax, ax
    mov ds, ax
    mov ah, 5
    mov cx, 0x2c7a            ; 'z'
    int 0x16
    mov [0x600], al
    mov ah, 0x10
    int 0x16
    mov [0x602], ax
    mov ah, 2
    int 0x16
    mov [0x604], al
""" + HALT))
    r = m.run(100_000)
    assert r.reason == "halted", r.message
    got = words(m, RESULTS, 3)
    assert got[0] & 0xFF == 0 and got[1] == 0x2C7A and got[2] & 0xFF == 0
