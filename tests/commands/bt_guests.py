"""Guests with frame-pointer call chains that take an interrupt in the middle: main -> f1 -> f2
-> INT 30h -> handler (push bp; mov bp, sp) -> hf, which halts at `stop`.  One per code size;
`SYMBOLS` names the labels, `CHAIN` is what a backtrace from `stop` must show."""
from __future__ import annotations

from tests.commands.paging_guests import LONG
from tests.conftest import GDT_PM, GDT_TAIL, idt_gate

CHAIN = ["hf", "handler", "f2", "f1", "main"]


def _body(bp: str, sp: str) -> str:
    return f"""
main:
    xor {bp}, {bp}
    call f1
    jmp $
f1:
    push {bp}
    mov {bp}, {sp}
    call f2
    pop {bp}
    ret
f2:
    push {bp}
    mov {bp}, {sp}
    push 0x1234
    int 0x30
    pop {bp}
    pop {bp}
    ret
handler:
    push {bp}
    mov {bp}, {sp}
    call hf
    pop {bp}
    iret
hf:
    push {bp}
    mov {bp}, {sp}
    nop
stop:
    cli
    hlt
    jmp stop
"""


REAL = """
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word [0x30 * 4], handler
    mov word [0x30 * 4 + 2], 0
    jmp main
""" + _body("bp", "sp")

PM32 = GDT_PM + idt_gate(0x30, "handler") + """
    lidt [idtr]
    jmp main
idtr: dw 0x30 * 8 + 7
    dd idt
""" + _body("ebp", "esp").replace("    iret\n", "    iretd\n") + GDT_TAIL

# 64-bit: the paging guest's way into long mode, then a 64-bit IDT gate for vector 30h.
LONG64 = LONG.split("    mov rax, [0x20000]")[0] + """
    mov rsp, 0x9000
    mov rax, handler
    mov [0x8000 + 0x30 * 16], ax
    mov word [0x8000 + 0x30 * 16 + 2], 0x08
    mov word [0x8000 + 0x30 * 16 + 4], 0x8e00
    shr rax, 16
    mov [0x8000 + 0x30 * 16 + 6], ax
    shr rax, 16
    mov [0x8000 + 0x30 * 16 + 8], eax
    lidt [idtr64]
    jmp main
idtr64: dw 0x30 * 16 + 15
    dq 0x8000
""" + _body("rbp", "rsp").replace("    iret\n", "    iretq\n").replace(
    "    push 0x1234\n", "    push 0x1234\n") + """
align 8
gdt: dq 0
    dq 0x00af9a000000ffff
    dq 0x00cf92000000ffff
gdtr: dw gdtr - gdt - 1
    dd gdt
"""

GUESTS = {16: REAL, 32: PM32, 64: LONG64}
