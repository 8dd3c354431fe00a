"""INT 10h through boot code: teletype, scrolling, cursor, write string -- against text memory."""
from __future__ import annotations

from tests.machine.bios.conftest import HALT, RESULTS, machine, make_disk, run_to_halt, words

TEXT = 0xB8000
PUTS = """
puts: lodsb
    test al, al
    jz .done
    mov ah, 0x0e
    int 0x10
    jmp puts
.done: ret
"""


def screen_row(m, row: int, cols: int = 80) -> str:
    data = m.mem.read_phys(TEXT + row * cols * 2, cols * 2)
    return bytes(data[0::2]).decode("latin-1").rstrip(" \0")


def attrs_row(m, row: int, cols: int = 80) -> bytes:
    return bytes(m.mem.read_phys(TEXT + row * cols * 2, cols * 2)[1::2])


def test_teletype_writes_text_memory_and_moves_the_cursor():
    d = make_disk("""
    xor ax, ax
    mov ds, ax
    mov si, msg
    call puts
    mov ah, 3
    xor bh, bh
    int 0x10
    mov [0x600], dx
""" + HALT + PUTS + """
msg: db "Hello", 13, 10, "wor", 8, "ld", 7, 0
""")
    m = machine(d)
    run_to_halt(m)
    assert screen_row(m, 0) == "Hello"
    assert screen_row(m, 1) == "wold"                 # BS moved back over 'r'
    assert words(m, RESULTS, 1)[0] == (1 << 8) | 4    # DH=1, DL=4
    assert m.mem.read_u(0x450, 2) == (1 << 8) | 4


def test_teletype_wraps_and_scrolls_the_page():
    d = make_disk("""
    xor ax, ax
    mov ds, ax
    mov si, first
    call puts
    mov ah, 2                 ; cursor to row 24, column 78
    xor bh, bh
    mov dx, 0x184e
    int 0x10
    mov si, last
    call puts
    mov ah, 3
    int 0x10
    mov [0x600], dx
""" + HALT + PUTS + """
first: db "line0", 13, 10, "line1", 0
last:  db "ABCD", 0
""")
    m = machine(d)
    run_to_halt(m)
    # "AB" filled columns 78-79 of row 24; "C" wrapped and scrolled everything up one line.
    assert screen_row(m, 0) == "line1"
    assert screen_row(m, 23)[-2:] == "AB"
    assert screen_row(m, 24) == "CD"
    assert words(m, RESULTS, 1)[0] == (24 << 8) | 2


def test_scroll_window_write_char_attr_and_string():
    d = make_disk("""
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ax, 0x0600            ; clear the screen with attribute 1Eh
    mov bh, 0x1e
    xor cx, cx
    mov dx, 0x184f
    int 0x10
    mov ah, 2
    xor bh, bh
    mov dx, 0x0203
    int 0x10
    mov ax, 0x0958            ; 'X' x5, attribute 4Fh
    mov bx, 0x004f
    mov cx, 5
    int 0x10
    mov ax, 0x0601            ; scroll rows 1-3, columns 0-9 up by one
    mov bh, 0x70
    mov cx, 0x0100
    mov dx, 0x0309
    int 0x10
    mov ax, 0x1301            ; write string at row 10 col 0, update cursor
    mov bx, 0x0002
    mov cx, 3
    mov dx, 0x0a00
    mov bp, str
    int 0x10
    mov ah, 3
    int 0x10
    mov [0x600], dx
    mov ah, 2
    mov dx, 0x0104
    int 0x10
    mov ah, 8                 ; read back one scrolled 'X'
    int 0x10
    mov [0x602], ax
""" + HALT + """
str: db "abc"
""")
    m = machine(d)
    run_to_halt(m)
    # 'X' x5 at row 2 columns 3-7; the window (rows 1-3, columns 0-9) moved up one line.
    assert screen_row(m, 1) == "   XXXXX" and attrs_row(m, 1)[3:8] == b"\x4f" * 5
    assert screen_row(m, 2) == "" and attrs_row(m, 2)[:10] == b"\x1e" * 10
    assert attrs_row(m, 3)[:10] == b"\x70" * 10        # the new bottom line of the window
    assert attrs_row(m, 3)[10] == 0x1E
    assert screen_row(m, 10) == "abc" and attrs_row(m, 10)[:3] == b"\x02" * 3
    r = words(m, RESULTS, 2)
    assert r[0] == (10 << 8) | 3
    assert r[1] == 0x4F58


def test_set_mode_and_get_mode():
    d = make_disk("""
    mov ax, 0x0001            ; 40x25
    int 0x10
    mov ah, 0x0f
    int 0x10
    mov [0x600], ax
    mov [0x602], bx
    mov ax, 0x0003
    int 0x10
    mov ah, 0x0f
    int 0x10
    mov [0x604], ax
    mov ax, 0x1a00
    int 0x10
    mov [0x606], ax
    mov [0x608], bx
""" + HALT)
    m = machine(d)
    run_to_halt(m)
    r = words(m, RESULTS, 5)
    assert r[0] == (40 << 8) | 1 and r[1] >> 8 == 0
    assert r[2] == (80 << 8) | 3
    assert r[3] & 0xFF == 0x1A and r[4] == 0x0008
    assert m.mem.read_phys(TEXT, 4) == b" \x07 \x07"


def test_cursor_reaches_the_crtc():
    d = make_disk("""
    mov ah, 2
    xor bh, bh
    mov dx, 0x0507
    int 0x10
""" + HALT)
    m = machine(d)
    run_to_halt(m)
    assert m.devices.vga.cursor() == (5, 7)
