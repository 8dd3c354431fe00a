"""A guest for the differential harness made of REP MOVS/STOS (done in place by the native block
counter, machine/_repstring.c): 16-bit code with the PIT interrupting the copies (its handler logs
ECX, so an IRQ taken one iteration early or late shows), both directions, overlapping copies that
read what they wrote, a destination offset that wraps at 64 KiB, a copy over code that runs next
(in another page, already translated; and in the page of the REP itself), an IRQ waiting with
IF=0 while a REP runs and delivered right after STI in the middle of the next one; then flat PM32
with large copies through 4 KiB pages (Accessed/Dirty bits still clear at first) and PAE 2 MiB
pages.  Built from source with nasm; the reference stepper is its oracle.
"""
from __future__ import annotations

__all__ = ["source", "NAME", "DEST"]

NAME = "rep-strings"
DEST = 0x10000          # the first copies' destination (a watchpoint target)

_SOURCE = """
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word [0x20], irq0
    mov [0x22], ax
    mov word [0x4fe], 0x600             ; IRQ log pointer
    mov al, 0x34                        ; PIT 0: rate generator
    out 0x43, al
    mov al, {pit}
    out 0x40, al
    xor al, al
    out 0x40, al
    mov al, 0xfe
    out 0x21, al
    sti
    mov ax, 0x1000
    mov es, ax
    xor si, si
    xor di, di
    mov cx, {a}
    cld
    rep movsb                           ; A: low memory (varied bytes) to 10000h
    mov ds, ax
    mov si, 100
    mov di, 101
    mov cx, {b}
    rep movsb                           ; B: forward, reads what it wrote
    xor ebp, [500]                      ; (EBP: a digest of memory the copies wrote)
    std
    mov si, {c2}
    mov di, {c2} - 2
    mov cx, {c}
    rep movsw                           ; C: backward, reads what it wrote
    xor ebp, [{c2} - 99]
    mov si, {d2}
    mov di, {d2} + 2
    mov cx, {d}
    rep movsw                           ; D: backward, overlapping behind
    xor ebp, [{d2} - 99]
    cld
    mov ax, 0x2000
    mov es, ax
    mov di, 0xff00
    mov cx, 0x200
    rep stosw                           ; E: DI wraps at 64 KiB
    xor ebp, [es:2]
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov si, codea
    mov di, 0x8000
    mov cx, 4
    rep movsb
    call 0x8000                         ; translated ...
    mov si, codeb
    mov di, 0x8000
    mov cx, 8
    rep movsb                           ; ... then copied over (the last byte after it)
    call 0x8000
    mov [0x500], ax
    mov si, codeb
    mov di, patch
    mov cx, 3
    rep movsb                           ; over the next instruction (the REP's own page)
patch:
    mov ax, 7
    mov [0x502], ax
{selfrep}    cli
    mov ax, 0x3000
    mov es, ax
    xor di, di
    mov cx, {f}
    mov al, 0x5a
    rep stosb                           ; F: IRQ waiting with IF=0
    mov cx, {g}
    sti
    rep stosb                           ; G: delivered after STI's shadow, mid-REP
    cli
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm
irq0:
    push ax
    push bx
    mov bx, [cs:0x4fe]
    mov [cs:bx], ecx
    add bx, 4
    and bx, 0x1ff
    or bx, 0x600
    mov [cs:0x4fe], bx
    mov al, 0x20
    out 0x20, al
    pop bx
    pop ax
    iret
codea: mov ax, 1
    ret
codeb: mov ax, 2
    ret
nops: nop
    nop
bits 32
pm:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov edi, 0x21000                    ; 4 KiB page table: identity, A/D clear
    mov eax, 3
    mov ecx, 1024
pt: stosd
    add eax, 0x1000
    loop pt
    mov dword [0x20000], 0x21003
    mov eax, 0x20000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    xor esi, esi                        ; (from A0000h on: not plain RAM, declined)
    mov edi, 0x180000
    mov ecx, {h}
    rep movsd                           ; H: 4 KiB pages
    xor ebp, [0x181001]
    mov eax, cr0
    and eax, 0x7fffffff
    mov cr0, eax
    mov dword [0x22000], 0x23001        ; PAE: PDPT, then 2 MiB pages
    mov dword [0x23000], 0x83
    mov eax, cr4
    or eax, 0x20
    mov cr4, eax
    mov eax, 0x22000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    std
    mov esi, 0x180000 + {i2}
    mov edi, 0x180000 + {i2} - 2
    mov ecx, {i}
    rep movsw                           ; I: backward, 2 MiB pages, reads what it wrote
    xor ebp, [0x180000 + {i2} / 2]
    xor ebp, [0x600]
    cld
    mov edi, 0x140000
    mov eax, 0x11223344
    mov ecx, {j}
    rep stosd                           ; J
    hlt
align 8
gdt: dq 0
    dq 0x00cf9a000000ffff
    dq 0x00cf92000000ffff
gdtr: dw gdtr - gdt - 1
    dd gdt
times 510-($-$$) db 0
dw 0xaa55
"""


SELF = """
    mov si, nops
    mov di, selfrep
    mov cx, 2
selfrep:
    rep movsb                           ; over itself
    xor ebp, [selfrep]
"""


def source(scale: int = 1, over_itself: bool = True) -> str:
    """The guest with its copies `scale` times as long (1: about 40,000 instructions);
    `over_itself`: with the REP that copies over itself (QEMU re-runs the storing iteration: the
    pure-Python fallback counts it twice)."""
    n = dict(a=3000, b=900, c=500, d=700, f=6000, g=2000, h=0x2000, i=0x3000, j=0x1000)
    n = {k: min(v * scale, 0xFFFF if k in "abcdfg" else 1 << 24) for k, v in n.items()}
    return _SOURCE.format(selfrep=SELF if over_itself else "",
                          pit=40 if scale == 1 else 150, c2=2 * n["c"] + 2,
                          d2=2 * n["d"] + 10, i2=2 * n["i"], **n)
