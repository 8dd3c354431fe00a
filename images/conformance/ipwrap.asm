; 16-bit IP at the end of a 64 KiB segment: a NOP at SEG:FFFF, for SEG = 2000h (CS.base+10000h a
; page boundary) and SEG = 2001h (not one).  QEMU 7.2 continues at SEG:0000 (IP wraps) in the
; first case only (its translation block ends at the page boundary and the jump to the next one
; is truncated to 16 bits); Bochs 2.7 raises #GP (EIP 10000h beyond the CS limit); bootdbg wraps
; in both.  None goes on at linear SEG*16+10000h, where this image puts a tell-tale.
%include "lib.inc"

main:
    mov word [13*4], gp
    mov word [13*4+2], 0
    mov word [wseg], 0x2000
    call one
    mov word [wseg], 0x2001
    call one
    jmp finish

one:
    mov [saved_sp], sp
    mov ax, [wseg]
    mov es, ax
    mov [target+2], ax
    mov byte [es:0xffff], 0x90
    mov di, 0
    mov si, wrap_land
    mov cx, wrap_land_end - wrap_land
    rep movsb
    add ax, 0x1000
    mov es, ax
    mov di, 0
    mov si, nowrap_land
    mov cx, nowrap_land_end - nowrap_land
    rep movsb
    xor ax, ax
    mov es, ax
    jmp far [target]
after:
    call newline
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, [saved_sp]
    ret

wrap_land:
    call 0:report                  ; far call: the pushed CS:IP shows where it ran
wrap_land_end:
nowrap_land:
    call 0:report_nowrap
nowrap_land_end:

report_nowrap:
    PRINT "IP did not wrap: "
report:
    pop ax
    pop bx
    PRINT "ret="
    xchg ax, bx
    call hex16
    mov al, ':'
    out 0xe9, al
    mov ax, bx
    call hex16
    jmp after

gp:
    pop ax
    pop bx
    PRINT "#GP at "
    xchg ax, bx
    call hex16
    mov al, ':'
    out 0xe9, al
    mov ax, bx
    call hex16
    jmp after

wseg: dw 0
saved_sp: dw 0
target: dw 0xffff, 0

%include "tail.inc"
