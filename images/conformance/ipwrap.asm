; 16-bit IP at the end of a 64 KiB segment: a NOP at 2000:FFFF.  QEMU 7.2 continues at 2000:0000
; (IP wraps); Bochs 2.7 raises #GP (EIP 10000h beyond the CS limit).  Either way it never goes on
; at linear 30000h (2000:10000), where this image puts a tell-tale.
%include "lib.inc"

main:
    mov word [13*4], gp
    mov word [13*4+2], 0
    mov ax, 0x2000
    mov es, ax
    mov byte [es:0xffff], 0x90
    mov di, 0
    mov si, wrap_land
    mov cx, wrap_land_end - wrap_land
    rep movsb
    mov ax, 0x3000
    mov es, ax
    mov di, 0
    mov si, nowrap_land
    mov cx, nowrap_land_end - nowrap_land
    rep movsb
    xor ax, ax
    mov es, ax
    jmp 0x2000:0xffff
after:
    call newline
    jmp finish

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

%include "tail.inc"
