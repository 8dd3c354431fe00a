; PS/2 mouse probe: prints on port E9h what the 8042's auxiliary port (commands A7h/A8h/A9h/D4h)
; and the mouse behind it answer, then what the BIOS's INT 15h AH=C2h pointing-device services
; return, so that bootdbg can be compared with qemu-system-i386 (-machine pc,acpi=off
; -nodefaults: QEMU's PS/2 mouse, SeaBIOS 1.16).
; Built with the conformance prelude (-I images/conformance/); the BIOS calls are the point here.
%include "lib.inc"

main:
    cli
    call drain
    PRINT "cmd byte="
    mov al, 0x20
    call ctl
    call rd
    call newline
    PRINT "A9:"
    mov al, 0xa9
    call ctl
    call rd
    call newline
    ; aux interface disabled (SeaBIOS leaves it so): the reply waits behind the disable
    mov al, 0xa7
    call ctl
    PRINT "F2 aux off:"
    mov al, 0xf2
    call aux
    call rd
    call newline
    mov al, 0xa8
    call ctl
    PRINT "after A8:"
    call rd
    call rd
    call rd
    call newline
    PRINT "cmd byte="
    mov al, 0x20
    call ctl
    call rd
    call newline
    PRINT "E9 at boot:"
    mov al, 0xe9
    call aux
    call rd4
    PRINT "FF:"
    mov al, 0xff
    call aux
    call rd
    call rd
    call rd
    call rd
    call newline
    PRINT "E9 after reset:"
    mov al, 0xe9
    call aux
    call rd4
    PRINT "F2:"
    mov al, 0xf2
    call aux
    call rd
    call rd
    call newline
    ; IntelliMouse detection: rates 200, 100, 80 then get id
    PRINT "F3 C8/64/50:"
    mov ah, 0xc8
    call setrate
    mov ah, 0x64
    call setrate
    mov ah, 0x50
    call setrate
    call newline
    PRINT "F2:"
    mov al, 0xf2
    call aux
    call rd
    call rd
    call newline
    PRINT "E8 03 E7 F0 F4 E9:"
    mov al, 0xe8
    call aux
    call rd
    mov al, 0x03
    call aux
    call rd
    mov al, 0xe7
    call aux
    call rd
    mov al, 0xf0
    call aux
    call rd
    mov al, 0xf4
    call aux
    call rd
    mov al, 0xe9
    call aux
    call rd4
    PRINT "EB:"
    mov al, 0xeb
    call aux
    call rd
    call rd
    call rd
    call rd
    call rd
    call newline
    PRINT "wrap EE 12 EC E9:"
    mov al, 0xee
    call aux
    call rd
    mov al, 0x12
    call aux
    call rd
    mov al, 0xec
    call aux
    call rd
    mov al, 0xe9
    call aux
    call rd4
    PRINT "F6 E6 EA F5 55:"
    mov al, 0xf6
    call aux
    call rd
    mov al, 0xe6
    call aux
    call rd
    mov al, 0xea
    call aux
    call rd
    mov al, 0xf5
    call aux
    call rd
    mov al, 0x55
    call aux
    call rd
    call newline
    PRINT "E9:"
    mov al, 0xe9
    call aux
    call rd4
    ; back to the boot state: reset, aux interface off, command byte as found
    mov al, 0xff
    call aux
    call rd
    call rd
    call rd
    mov al, 0xa7
    call ctl
    mov al, 0x60
    call ctl
    mov al, 0x61
    call dat
    call drain

    ; -- INT 15h AH=C2h
    sti
    mov ax, 0xc205
    mov bh, 4
    call bios
    mov ax, 0xc205
    mov bh, 3
    call bios
    mov ax, 0xc204
    call bios
    mov ax, 0xc201
    call bios
    mov ax, 0xc202
    mov bh, 2
    call bios
    mov ax, 0xc202
    mov bh, 9
    call bios
    mov ax, 0xc203
    mov bh, 3
    call bios
    mov ax, 0xc203
    mov bh, 4
    call bios
    mov ax, 0xc206
    mov bh, 2
    call bios
    mov ax, 0xc206
    mov bh, 0
    call bios
    mov ax, 0xc206
    mov bh, 1
    call bios
    mov ax, 0xc206
    mov bh, 7
    call bios
    mov ax, 0xc200
    mov bh, 1                    ; enable: no handler yet
    call bios
    push cs
    pop es
    mov ax, 0xc207
    mov bx, handler
    call bios
    mov ax, 0xc200
    mov bh, 1
    call bios
    ; a packet the guest writes into the auxiliary output buffer (D3h) reaches the handler
    mov byte [got], 0
    mov al, 0xd3
    call ctl
    mov al, 0x09
    call dat
    call wait_irq
    mov al, 0xd3
    call ctl
    mov al, 0x05
    call dat
    call wait_irq
    mov al, 0xd3
    call ctl
    mov al, 0xfb
    call dat
    call wait_irq
    PRINT "handler calls="
    mov al, [got]
    call hex8
    call newline
    cli
    PRINT "cmd byte="
    mov al, 0x20
    call ctl
    call rd
    call newline
    sti
    mov ax, 0xc200
    mov bh, 0
    call bios
    mov ax, 0xc200
    mov bh, 5
    call bios
    xor bx, bx
    mov es, bx
    mov ax, 0xc207
    call bios
    mov ax, 0xc208
    call bios
    cli
    PRINT "cmd byte="
    mov al, 0x20
    call ctl
    call rd
    call newline
    PRINT "EBDA 22-2F:"
    push ds
    mov ax, [0x40e]
    mov ds, ax
    mov si, 0x22
    mov cx, 14
.e: lodsb
    call space
    call hex8
    loop .e
    pop ds
    call newline
    jmp finish

handler:
    push bp
    mov bp, sp
    push ax
    inc byte [cs:got]
    PRINT "pkt st="
    mov ax, [bp+12]
    call hex16
    PRINT " x="
    mov ax, [bp+10]
    call hex16
    PRINT " y="
    mov ax, [bp+8]
    call hex16
    PRINT " z="
    mov ax, [bp+6]
    call hex16
    call newline
    pop ax
    pop bp
    retf

got: db 0

; wait_irq: let interrupts in until the output buffer is empty (at most ~16 timer ticks)
wait_irq:
    push cx
    mov cx, 16
.w: in al, 0x64
    test al, 1
    jz .d
    sti
    hlt
    loop .w
.d: pop cx
    ret

; bios: INT 15h with AX, BX as set; prints "AX=xxxx cf=n ax bx cx dx"
bios:
    mov cx, 0x5a5a
    mov dx, 0xa5a5
    push ax
    call hex16
    pop ax
    int 0x15
    pushf
    push ax
    PRINT " cf="
    pop ax
    pop si
    push ax
    mov ax, si
    and al, 1
    call hex8
    pop ax
    call space
    call hex16
    call space
    mov ax, bx
    call hex16
    call space
    mov ax, cx
    call hex16
    call space
    mov ax, dx
    call hex16
    call newline
    ret

setrate:                         ; F3h, then AH
    mov al, 0xf3
    call aux
    call rd
    mov al, ah
    call aux
    call rd
    ret

rd4:
    call rd
    call rd
    call rd
    call rd
    call newline
    ret

; wait until the controller takes input
win:
    push ax
.w: in al, 0x64
    test al, 2
    jnz .w
    pop ax
    ret

ctl:                             ; AL -> command port
    call win
    out 0x64, al
    ret

dat:                             ; AL -> data port
    call win
    out 0x60, al
    ret

aux:                             ; AL -> the mouse (D4h)
    push ax
    mov al, 0xd4
    call ctl
    pop ax
    call dat
    ret

; rd: print " BB" (a byte; with "m" after it when it came from the aux port) or " --" (none)
rd:
    push ax
    push cx
    mov cx, 0x4000
.w: in al, 0x64
    test al, 1
    jnz .got
    loop .w
    PRINT " --"
    jmp .d
.got:
    mov ah, al
    in al, 0x60
    call space
    call hex8
    test ah, 0x20
    jz .d
    PRINT "m"
.d: pop cx
    pop ax
    ret

drain:                           ; read what is pending
    push ax
    push cx
    mov cx, 0x100
.l: in al, 0x64
    test al, 1
    jz .n
    in al, 0x60
.n: loop .l
    pop cx
    pop ax
    ret

%include "tail.inc"
