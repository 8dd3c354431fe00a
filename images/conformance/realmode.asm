; Real mode: software interrupts and the faults they raise, #UD encodings, undocumented-but-real
; encodings, PUSHF images, SMSW, LOCK NEG flags, SP wrap-around.
%include "lib.inc"

; Point IVT entry %1 at handler %2.
%macro VEC 2
    mov word [%1*4], %2
    mov word [%1*4+2], 0
%endmacro

; A handler that prints its name, the pushed IP relative to label `base`, and returns to `resume`.
; (Every case sets `resume` and `base` in memory before it runs.)
%macro HANDLER 2
%1:
    PRINT %2
    call frame
    iret
%endmacro

main:
    VEC 3, h_bp
    VEC 4, h_of
    VEC 6, h_ud
    VEC 0x0d, h_gp
    VEC 0x40, h_40
    VEC 0x06 , h_ud

    ; INT n pushes the address after it
    mov word [base], .t1
    mov word [resume], .r1
.t1: int 0x40
.r1:
    ; INT 6 (CD 06) is a software interrupt: the address after it (not a #UD fault)
    mov word [base], .t2
    mov word [resume], .r2
.t2: int 6
.r2:
    ; INT3 (CC) and INT 3 (CD 03): the address after
    mov word [base], .t3
    mov word [resume], .r3
.t3: int3
.r3:
    mov word [base], .t4
    mov word [resume], .r4
.t4: int 3
.r4:
    ; INTO with OF=1: after; with OF=0: nothing
    mov word [base], .t5
    mov word [resume], .r5
    mov al, 0x7f
    add al, 1
.t5: into
.r5:
    mov word [base], .t6
    mov word [resume], .r6
    xor al, al
.t6: into
    PRINT "INTO OF=0 no trap", 10
.r6:
    ; 0F 0B (UD2), 0F 07 (SYSRET), 0F 05 (SYSCALL outside long mode): #UD at the instruction
    mov word [base], .t7
    mov word [resume], .r7
.t7: ud2
.r7:
    mov word [base], .t8
    mov word [resume], .r8
.t8: db 0x0f, 0x07
.r8:
    ; IVT limit: INT 40h beyond IDTR.limit is a #GP fault at the INT (vector 13 still inside)
    mov word [base], .t9
    mov word [resume], .r9
    lidt [idt_small]
.t9: int 0x40
.r9:
    lidt [idt_full]
    ; F6 /1 ib and F7 /1 iw: TEST (undocumented alias of /0)
    mov word [base], .t10
    mov word [resume], .r10
    mov al, 0x81
.t10: db 0xf6, 0xc8, 0x80           ; test al, 0x80
    pushf
    pop ax
    and ax, 0x08d5
    PRINT "F6/1 flags="
    call hex16
    call newline
.r10:
    mov word [base], .t11
    mov word [resume], .r11
    mov bx, 0x1234
.t11: db 0xf7, 0xcb, 0x00, 0x00     ; test bx, 0
    pushf
    pop ax
    and ax, 0x08d5
    PRINT "F7/1 flags="
    call hex16
    call newline
.r11:
    ; PUSHF image in real mode (reserved bit 1 set, VM/RF clear)
    mov ax, 0x0002
    push ax
    popf
    pushfd
    pop eax
    PRINT "PUSHFD="
    call hex32
    call newline
    ; SMSW r32 stores CR0[31:0] (QEMU 7.2, Bochs); SMSW r16 writes 16 bits
    mov eax, cr0
    and eax, 0x0000fff1              ; PE=0: keep ET/NE/MP etc low, drop CD/NW
    mov cr0, eax
    mov ebx, eax
    mov eax, 0xffffffff
    smsw eax
    xor eax, ebx
    PRINT "SMSW r32 ^ cr0="
    call hex32
    call newline
    mov eax, 0xffffffff
    smsw ax
    xor eax, ebx
    PRINT "SMSW r16 ^ cr0="
    call hex32
    call newline
    ; SMSW r32 with CR0's upper half non-zero (CD, NW): the SDM leaves bits 31:16 undefined;
    ; QEMU 7.2 and Bochs store CR0[31:0]
    mov eax, cr0
    or eax, 0x60000000
    mov cr0, eax
    mov eax, 0x12345678
    smsw eax
    mov ebx, cr0
    and ebx, 0x9fffffff
    mov cr0, ebx
    PRINT "SMSW r32 CD NW="
    call hex32
    call newline
    ; LOCK NEG [mem]: flags as plain NEG
    mov si, negvals
.neg:
    lodsw
    mov [negword], ax
    mov [negword2], ax
    mov ax, 0x0002
    push ax
    popf
    lock neg word [negword]
    pushf
    pop bx
    mov ax, 0x0002
    push ax
    popf
    neg word [negword2]
    pushf
    pop cx
    mov ax, [negword]
    PRINT "LOCK NEG "
    call hex16
    call space
    mov ax, bx
    and ax, 0x08d5
    call hex16
    call space
    mov ax, cx
    and ax, 0x08d5
    call hex16
    call newline
    cmp si, negvals_end
    jb .neg
    ; SP wrap: PUSH with SP=0 writes at SS:FFFE, SP becomes FFFE
    mov ax, 0x3000
    mov ss, ax
    xor sp, sp
    mov word [es:0], 0            ; (ES=0)
    mov ax, 0xbeef
    push ax
    mov bx, sp
    mov dx, [ss:0xfffe]
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    PRINT "SP wrap sp="
    mov ax, bx
    call hex16
    PRINT " word="
    mov ax, dx
    call hex16
    call newline
    jmp finish

; frame: called from a handler (after PRINT); prints " ip=+N" (IP pushed minus `base`)
; and points the return address at `resume`.
frame:
    push bp
    mov bp, sp
    mov ax, [bp+4]          ; pushed IP (frame: bp, ret, ip, cs, flags)
    sub ax, [base]
    PRINT " ip=base+"
    call hex16
    call newline
    mov ax, [resume]
    mov [bp+4], ax
    mov word [bp+6], 0
    pop bp
    ret

HANDLER h_bp, "#BP/INT3"
HANDLER h_of, "#OF/INTO"
HANDLER h_ud, "vector 6"
HANDLER h_gp, "#GP"
HANDLER h_40, "INT 40h"

base: dw 0
resume: dw 0
negword: dw 0
negword2: dw 0
negvals: dw 0, 1, 0x8000, 0x0010, 0xffff, 0x7fff
negvals_end:
idt_small: dw 0x37
    dd 0
idt_full: dw 0x3ff
    dd 0

%include "tail.inc"
