"""INT 13h through real boot code: CHS and EDD transfers, geometry, errors, a hooking guest."""
from __future__ import annotations

from debugger.cpustate import RF_CF

from tests.machine.bios.conftest import HALT, RESULTS, machine, make_disk, run_to_halt, words

SETUP = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov [0x5f0], dl           ; boot drive
"""
# Store FLAGS and AX after a call at [di], [di+2]; advances di by 4.
STORE = """
    pushf
    mov [di], ax
    pop word [di+2]
    add di, 4
"""


def lba_of(m, addr: int) -> int:
    return int.from_bytes(m.mem.read_phys(addr, 4), "little")


def test_chs_reads_on_a_floppy_cross_heads_and_cylinders():
    d = make_disk(SETUP + """
    mov di, 0x600
    mov ax, 0x0203            ; 3 sectors at C1 H1 S5
    mov cx, 0x0105
    mov dh, 1
    mov bx, 0x1000
    int 0x13
""" + STORE + """
    mov ax, 0x0204            ; C0 H0 S17, 4 sectors: crosses into head 1
    mov cx, 0x0011
    mov dh, 0
    mov bx, 0x2000
    int 0x13
""" + STORE + """
    mov ax, 0x0202            ; C0 H1 S18, 2 sectors: crosses into cylinder 1
    mov cx, 0x0012
    mov dh, 1
    mov bx, 0x3000
    int 0x13
""" + STORE + HALT)
    m = machine(d)
    run_to_halt(m)
    r = words(m, RESULTS, 6)
    assert [r[0], r[2], r[4]] == [0x0003, 0x0004, 0x0002]          # AH=0, AL=count
    assert not any(f & RF_CF for f in (r[1], r[3], r[5]))
    assert [lba_of(m, 0x1000 + 512 * i) for i in range(3)] == [58, 59, 60]
    assert [lba_of(m, 0x2000 + 512 * i) for i in range(4)] == [16, 17, 18, 19]
    assert [lba_of(m, 0x3000 + 512 * i) for i in range(2)] == [35, 36]
    ev = [e for e in m.events if e.kind == "disk"]
    assert [(e.details["op"], e.details["lba"], e.details["count"], e.details["buffer"])
            for e in ev] == [("read", 58, 3, 0x1000), ("read", 16, 4, 0x2000),
                             ("read", 35, 2, 0x3000)]
    assert ev[0].details["chs"] == (1, 1, 5) and ev[0].details["drive"] == 0


def test_hard_disk_chs_geometry_params_and_drive_type():
    # 16 heads x 63 sectors: C2 H3 S4 -> LBA (2*16+3)*63+3 = 2208
    d = make_disk(SETUP + """
    mov di, 0x600
    mov ax, 0x0201
    mov cx, 0x0204
    mov dx, 0x0380
    mov bx, 0x1000
    int 0x13
""" + STORE + """
    mov ah, 0x08
    mov dl, 0x80
    int 0x13
""" + STORE + """
    mov [di], cx
    mov [di+2], dx
    add di, 4
    mov ah, 0x15
    mov dl, 0x80
    int 0x13
""" + STORE + """
    mov [di], cx
    mov [di+2], dx
    add di, 4
    mov ah, 0x15
    mov dl, 0x81              ; no second hard disk
    int 0x13
""" + STORE + HALT, kind="hd", size=20 * 16 * 63 * 512)
    m = machine(d)
    run_to_halt(m)
    r = words(m, RESULTS, 12)
    assert r[0] == 0x0001 and not r[1] & RF_CF
    assert lba_of(m, 0x1000) == 2208
    # AH=08h: AX=0, CH = last cylinder (20 - 2 = 18), CL = 63, DH = 15 heads-1, DL = 1 disk
    assert r[2] == 0 and not r[3] & RF_CF
    assert r[4] == (18 << 8) | 63 and r[5] == (15 << 8) | 1
    # AH=15h: AH=03 fixed disk, CX:DX = sectors
    assert r[6] >> 8 == 0x03 and not r[7] & RF_CF
    assert (r[8] << 16) | r[9] == 20 * 16 * 63
    assert r[10] >> 8 == 0x00 and not r[11] & RF_CF                 # no such drive


def test_floppy_params_point_at_the_diskette_parameter_table():
    d = make_disk(SETUP + """
    mov ah, 0x08
    mov dl, 0
    int 0x13
    pushf
    mov [0x600], ax
    pop word [0x602]
    mov [0x604], bx
    mov [0x606], cx
    mov [0x608], dx
    mov [0x60a], es
    mov [0x60c], di
    xor ax, ax
    mov es, ax
    les si, [0x1e*4]
    mov al, [es:si+4]         ; sectors per track from INT 1Eh's table
    mov [0x60e], ax
    mov ah, 0x15
    mov dl, 0
    int 0x13
    mov [0x610], ax
""" + HALT)
    m = machine(d)
    run_to_halt(m)
    r = words(m, RESULTS, 9)
    assert r[0] == 0 and not r[1] & RF_CF
    assert r[2] == 4                                  # BL = 1.44M drive type
    assert r[3] == (79 << 8) | 18                     # CH = 79, CL = 18
    assert r[4] == (1 << 8) | 1                       # DH = 1, DL = 1 floppy
    es, di = r[5], r[6]
    assert m.mem.read_phys((es << 4) + di + 4, 1)[0] == 18
    assert r[7] & 0xFF == 18
    assert r[8] >> 8 == 0x02                          # AH=15h: diskette with change line


def test_edd_check_extended_read_and_drive_parameters():
    d = make_disk(SETUP + """
    mov di, 0x600
    mov ah, 0x41
    mov bx, 0x55aa
    mov dl, 0x80
    int 0x13
""" + STORE + """
    mov [di], bx
    mov [di+2], cx
    add di, 4
    mov si, dap
    mov ah, 0x42
    mov dl, 0x80
    int 0x13
""" + STORE + """
    mov si, dap64
    mov ah, 0x42
    mov dl, 0x80
    int 0x13
""" + STORE + """
    mov word [0x4000], 0x42
    mov si, 0x4000
    mov ah, 0x48
    mov dl, 0x80
    int 0x13
""" + STORE + HALT + """
dap:   db 0x10, 0
       dw 3
       dw 0x1000, 0
       dq 1000
dap64: db 0x18, 0
       dw 1
       dw 0xffff, 0xffff
       dq 7
       dq 0x23000
""", kind="hd", size=4 * 16 * 63 * 512)
    m = machine(d)
    run_to_halt(m)
    r = words(m, RESULTS, 10)
    assert r[0] >> 8 == 0x30 and not r[1] & RF_CF
    assert r[2] == 0xAA55 and r[3] == 0x0007
    assert r[4] >> 8 == 0 and not r[5] & RF_CF
    assert [lba_of(m, 0x1000 + 512 * i) for i in range(3)] == [1000, 1001, 1002]
    assert r[6] >> 8 == 0 and not r[7] & RF_CF and lba_of(m, 0x23000) == 7
    assert r[8] >> 8 == 0 and not r[9] & RF_CF
    buf = m.mem.read_phys(0x4000, 0x42)
    u = lambda o, n: int.from_bytes(buf[o:o + n], "little")          # noqa: E731
    assert u(0, 2) == 0x42
    assert (u(4, 4), u(8, 4), u(12, 4)) == (4, 16, 63)
    assert u(16, 8) == 4 * 16 * 63 and u(24, 2) == 512
    assert u(0x1E, 2) == 0xBEDD and sum(buf[0x1E:0x42]) & 0xFF == 0
    dpte = (u(0x1C, 2) << 4) + u(0x1A, 2)
    assert int.from_bytes(m.mem.read_phys(dpte, 2), "little") == 0x1F0
    assert sum(m.mem.read_phys(dpte, 16)) & 0xFF == 0


def test_errors_set_cf_and_status():
    d = make_disk(SETUP + """
    mov di, 0x600
    mov ax, 0x0201            ; sector 19 on a 18-sector track
    mov cx, 0x0013
    mov dx, 0
    mov bx, 0x1000
    int 0x13
""" + STORE + """
    mov ah, 0x01              ; last status
    mov dl, 0
    int 0x13
""" + STORE + """
    mov ax, 0x0201            ; drive 1 does not exist
    mov cx, 0x0001
    mov dx, 0x0001
    int 0x13
""" + STORE + """
    mov ax, 0x0200            ; zero sectors
    mov cx, 0x0001
    mov dx, 0
    int 0x13
""" + STORE + """
    mov ax, 0x4100            ; EDD on a diskette: not supported
    mov bx, 0x55aa
    mov dx, 0
    int 0x13
""" + STORE + """
    mov ax, 0x0202            ; 2 sectors to 0x1:FF00 -> crosses 64K: DMA boundary
    mov cx, 0x0001
    mov dx, 0
    mov bx, 0x1000
    mov es, bx
    mov bx, 0xff00
    int 0x13
""" + STORE + """
    mov ah, 0x7f              ; unknown function
    mov dl, 0
    int 0x13
""" + STORE + HALT)
    m = machine(d)
    run_to_halt(m)
    r = words(m, RESULTS, 14)
    got = [(r[i] >> 8, bool(r[i + 1] & RF_CF)) for i in range(0, 14, 2)]
    assert got == [(0x04, True), (0x04, True), (0x01, True), (0x01, True), (0x01, True),
                   (0x09, True), (0x01, True)]
    assert r[0] & 0xFF == 0                                         # AL = 0 transferred
    assert m.mem.read_phys(0x1000, 4) == bytes(4)                   # nothing read
    assert m.mem.read_u(0x441, 1) == 0x01                           # BDA floppy status
    assert any(e.kind == "bios-unknown" and e.details["ax"] >> 8 == 0x7F for e in m.events)


def test_write_lands_in_the_overlay_not_the_image():
    d = make_disk(SETUP + """
    mov di, 0x1000
    mov cx, 256
    mov ax, 0xbeef
    rep stosw
    mov di, 0x600
    mov ax, 0x0301
    mov cx, 0x0002
    mov dx, 0
    mov bx, 0x1000
    int 0x13
""" + STORE + """
    mov ax, 0x0201
    mov cx, 0x0002
    mov bx, 0x2000
    int 0x13
""" + STORE + HALT)
    original = d.data
    m = machine(d)
    run_to_halt(m)
    r = words(m, RESULTS, 4)
    assert r[0] == 0x0001 and r[2] == 0x0001
    assert m.mem.read_phys(0x2000, 4) == b"\xef\xbe\xef\xbe"
    assert d.data is original and d.data[512:516] == (1).to_bytes(4, "little")
    assert d.overlay[1][:2] == b"\xef\xbe"


def test_guest_hooking_int13_chains_through_the_original_handler():
    # An encryption-style pre-boot: hook INT 13h, count calls, chain with pushf; call far.
    d = make_disk(SETUP + """
    mov ax, [0x13*4]
    mov [old], ax
    mov ax, [0x13*4+2]
    mov [old+2], ax
    cli
    mov word [0x13*4], hook
    mov word [0x13*4+2], 0
    sti
    mov ax, 0x0201
    mov cx, 0x0003
    mov dx, 0
    mov bx, 0x1000
    int 0x13
    pushf
    pop word [0x602]
    mov [0x600], ax
    mov ax, [count]
    mov [0x604], ax
""" + HALT + """
hook:
    inc word [cs:count]
    pushf
    call far [cs:old]
    jc .err
    xor byte [es:bx+4], 0xff      ; "decrypt" the first data byte after the LBA
.err:
    retf 2                         ; keep the flags the BIOS returned
old: dd 0
count: dw 0
""")
    m = machine(d)
    run_to_halt(m)
    r = words(m, RESULTS, 3)
    assert r[0] == 0x0001 and not r[1] & RF_CF and r[2] == 1
    assert lba_of(m, 0x1000) == 2 and m.mem.read_phys(0x1004, 1)[0] == 2 ^ 0xFF
