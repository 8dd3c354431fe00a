"""Small guests for the debugger's tests (assembled with nasm by tests.conftest.assemble)."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import assemble

__all__ = ["VM86", "UNREAL", "PMODE", "HELLO", "write_image"]

# Real mode -> 32-bit protected mode with a TSS -> IRETD into vm86 at 0800:0000 (linear 0x8000),
# where the guest writes 'V' to COM1 (allowed by the TSS I/O bitmap: in vm86 mode IN/OUT always
# consult the bitmap, whatever IOPL says) and loops.
VM86 = """
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
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
    mov fs, ax
    mov gs, ax
    mov esp, 0x7000
    mov ax, 0x18
    ltr ax
    mov esi, v86code
    mov edi, 0x8000
    mov ecx, v86end - v86code
    cld
    rep movsb
    push dword 0          ; gs
    push dword 0          ; fs
    push dword 0x800      ; ds
    push dword 0x800      ; es
    push dword 0x900      ; ss
    push dword 0xfffe     ; esp
    push dword 0x23002    ; eflags: VM, IOPL 3
    push dword 0x800      ; cs
    push dword 0          ; eip
    iretd
bits 16
v86code:
    mov ax, 1
    inc ax
    mov dx, 0x3f8
    mov al, 'V'
    out dx, al
spin:
    jmp spin
v86end:
align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff
    dq 0x00cf92000000ffff
    dw tss_end - tss - 1, tss, 0x8900, 0
gdtr:
    dw gdtr - gdt - 1
    dd gdt
tss:
    dd 0
    dd 0x7000
    dd 0x10
    times 22 dd 0
    dw 0, 104
    times 0x400 / 8 db 0  ; I/O bitmap: ports 0-3FFh allowed
    db 0xff
tss_end:
"""

# Big real mode: PE on, DS/ES loaded with a 4 GiB data segment, PE off again (no far jump).
UNREAL = """
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    mov bx, 0x08
    mov ds, bx
    mov es, bx
    and al, 0xfe
    mov cr0, eax
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov dword [dword 0x100000], 0x12345678
    mov dx, 0x3f8
    mov al, 'U'
    out dx, al
    hlt
align 8
gdt:
    dq 0
    dq 0x00cf92000000ffff
gdtr:
    dw gdtr - gdt - 1
    dd gdt
"""

# Calls, a string, a loop: for step/next/finish/x tests.  Prints "Hi" on COM1 and halts.
HELLO = """
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov si, msg
    call print
    mov cx, 3
again:
    nop
    loop again
    mov byte [0x500], 0x42
    mov word [0x502], 0x1234
    cli
    hlt
print:
    lodsb
    test al, al
    jz .done
    mov dx, 0x3f8
    out dx, al
    jmp print
.done:
    ret
msg: db "Hi", 0
"""

PMODE = VM86


def write_image(directory: Path, source: str, name: str = "guest.img") -> Path:
    path = Path(directory) / name
    path.write_bytes(assemble(source))
    return path
