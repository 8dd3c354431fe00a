"""A guest for the differential harness whose address mapping keeps changing under armed points.

Real mode with the A20 gate toggled while writing through the 1 MiB wrap; then flat PM32 and,
four times over: 32-bit paging with 4 MiB pages through directory A (linear 4 MiB -> physical 0,
8 MiB -> 4 MiB), code run through that alias, directory B (4 MiB identity), a page-directory
entry on the watched page rewritten (+ INVLPG), paging off again -- writing the same linear and
physical addresses in each mapping.  `ADDRESSES` are the ones worth watching (linear or
physical).  Built from source with nasm (no image in images/: it prints nothing to compare with
QEMU; the reference stepper is its oracle).
"""
from __future__ import annotations

__all__ = ["SOURCE", "ADDRESSES", "NAME"]

NAME = "paging-remap"
ADDRESSES = (0x407000, 0x407002, 0x807000, 0x7000, 0x7004, 0x108000, 0x8000, 0x8002, 0xA004,
             0x9004)

SOURCE = """
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov ax, 0xffff
    mov es, ax
    mov cx, 3
a20loop:
    in al, 0x92
    xor al, 2
    out 0x92, al
    mov word [es:0x8010], cx            ; linear 0x108000
    mov word [0x8000], cx
    inc word [es:0x8012]
    loop a20loop
    in al, 0x92
    or al, 2
    out 0x92, al
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm
bits 32
pm:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov dword [0x9000], 0x83             ; directory A
    mov dword [0x9004], 0x83             ;   linear 4 MiB -> physical 0
    mov dword [0x9008], 0x400083         ;   linear 8 MiB -> physical 4 MiB
    mov dword [0xA000], 0x83             ; directory B
    mov dword [0xA004], 0x400083         ;   identity
    mov dword [0xA008], 0x83             ;   linear 8 MiB -> physical 0
    mov eax, cr4
    or eax, 0x10                         ; PSE
    mov cr4, eax
    mov esi, 4
outer:
    mov eax, 0x9000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp 0x08:alias + 0x400000
alias:
    mov dword [0x407000], esi
    mov dword [0x807000], esi
    add dword [0x7000], 3
    mov eax, [0x407004]
    call sub
    jmp 0x08:ident
ident:
    mov eax, 0xA000
    mov cr3, eax
    mov dword [0x407000], esi
    add dword [0x807000], esi
    mov dword [0x7000], esi
    xor dword [0xA004], 0xC00000         ; PDE 1: physical 4 MiB <-> 8 MiB
    invlpg [0x407000]
    mov dword [0x407000], esi
    mov byte [0x407003], 7
    mov eax, cr0
    and eax, 0x7fffffff
    mov cr0, eax
    mov dword [0x407000], esi
    mov dword [0x7004], esi
    dec esi
    jnz outer
    hlt
    jmp $                                ; (a breakpoint here never stops: see README)
sub:
    inc dword [0x407004]
    ret
align 8
gdt: dq 0
    dq 0x00cf9a000000ffff
    dq 0x00cf92000000ffff
gdtr: dw gdtr - gdt - 1
    dd gdt
times 510-($-$$) db 0
dw 0xaa55
"""
