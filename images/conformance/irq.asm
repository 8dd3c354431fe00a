; Hardware interrupts in real mode, with the image's own PIC and PIT set-up: an IRQ ends HLT and
; returns after it; an IRQ pending while IF=0 is taken one instruction after STI (its shadow) and
; right after a POPF that sets IF (no shadow); the pushed FLAGS have IF set.
%include "lib.inc"

VEC equ 0x20

main:
    mov word [VEC*4], irq0
    mov word [VEC*4+2], 0
    ; PIC pair: vectors 20h/28h, only IRQ0 open
    mov al, 0x11
    out 0x20, al
    out 0xa0, al
    mov al, VEC
    out 0x21, al
    mov al, VEC + 8
    out 0xa1, al
    mov al, 4
    out 0x21, al
    mov al, 2
    out 0xa1, al
    mov al, 1
    out 0x21, al
    out 0xa1, al
    mov al, 0xff
    out 0xa1, al
    mov al, 0xfe
    out 0x21, al

    ; 1: HLT, woken by IRQ0: returns after the HLT
    mov word [base], .h1
    call arm_pit
    sti
.h1: hlt
    cli
    PRINT "HLT woken, ip=base+"
    call report

    ; 2: pending while IF=0, then STI; NOP: taken after the NOP
    call arm_pit
    call wait_pending
    mov word [base], .s2
.s2: sti
    nop
    nop
    cli
    PRINT "STI shadow, ip=base+"
    call report

    ; 3: pending, then POPF setting IF: taken right after the POPF
    call arm_pit
    call wait_pending
    pushf
    pop ax
    or ax, 0x200
    push ax
    mov word [base], .p3
.p3: popf
    nop
    nop
    cli
    PRINT "POPF, ip=base+"
    call report
    jmp finish

arm_pit:                        ; channel 0, mode 0, count 200: one IRQ0 edge soon
    mov al, 0x30
    out 0x43, al
    mov al, 200
    out 0x40, al
    xor al, al
    out 0x40, al
    ret

wait_pending:                   ; IF=0: poll the master's IRR until IRQ0 is requested
    mov al, 0x0a
    out 0x20, al
.w: in al, 0x20
    test al, 1
    jz .w
    ret

report:                         ; AX = [seen] - [base], then the pushed FLAGS' IF
    mov ax, [seen]
    sub ax, [base]
    call hex16
    PRINT " IF in image="
    mov ax, [seenfl]
    shr ax, 9
    and al, 1
    call hex8
    call newline
    ret

irq0:
    push bp
    mov bp, sp
    push ax
    mov ax, [bp+2]
    mov [seen], ax
    mov ax, [bp+6]
    mov [seenfl], ax
    mov al, 0x20
    out 0x20, al
    pop ax
    pop bp
    iret

base: dw 0
seen: dw 0
seenfl: dw 0

%include "tail.inc"
