"""A guest for the differential harness that waits in HLT with interrupts on.

IRQ 0 (the PIT in mode 2, a short period) wakes it: HLT right after STI (in STI's shadow), HLT
with IF already 1, HLT with the IRQ already pending when it runs, a HLT inside a REP-free
counting loop; then a final HLT with interrupts off.  None of the demo images waits in HLT with
IF=1, so nothing compared what a command that ends at such a HLT leaves: the CPU waiting there
(the wait, and the interrupt that ends it, belong to the next command).  Built from source with
nasm (no image in images/: the reference stepper is its oracle).
"""
from __future__ import annotations

__all__ = ["SOURCE", "NAME"]

NAME = "hlt-wait"

SOURCE = """
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word [8*4], isr
    mov word [8*4+2], 0
    mov al, 0x34                ; PIT ch0: mode 2, 0x0800 ticks
    out 0x43, al
    mov al, 0x00
    out 0x40, al
    mov al, 0x08
    out 0x40, al
    mov al, 0xFE                ; IRQ 0 only
    out 0x21, al
    mov cx, 4
again:
    sti
    hlt                         ; in STI's shadow
    inc bx
    nop
    hlt                         ; IF already 1
    add [0x600], bx
    cli
    mov dx, 3000                ; IRQ 0 becomes pending while IF=0 ...
spin:
    dec dx
    jnz spin
    sti
    hlt                         ; ... and wakes this HLT at once
    dec cx
    jnz again
    cli
    mov ax, [0x700]
    mov [0x602], ax
    hlt

isr:
    inc word [0x700]
    push ax
    mov al, 0x20
    out 0x20, al
    pop ax
    iret
"""
