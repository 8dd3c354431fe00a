; hello -- the default demo image: BIOS video, memory and equipment services.
;
; INT 10h AH=0Eh teletype, AH=02h set cursor, AH=03h read cursor, AH=13h write string,
; INT 12h conventional memory size, INT 11h equipment word; everything is also reported over
; COM1 (direct 16550 programming).  BIOS calls throughout, so no STATE block.

%include "lib/boot.inc"

main:
        mov esi, s_title
        call r_puts

        ; INT 10h AH=0Eh: teletype on page 0
        mov si, s_hello
.tty:   lodsb
        test al, al
        jz .ttydone
        mov ah, 0x0e
        xor bx, bx
        int 0x10
        jmp .tty
.ttydone:
        mov esi, s_tty_serial
        call r_puts

        ; INT 10h AH=02h: cursor to row 5, column 10, page 0
        mov ah, 0x02
        xor bh, bh
        mov dx, 0x050a
        int 0x10
        ; INT 10h AH=13h: write string with attribute 1Eh at row 5, column 10 (cursor moves)
        mov ax, 0x1301
        mov bx, 0x001e
        mov cx, s_at_len
        mov dx, 0x050a
        push cs
        pop es
        mov bp, s_at
        int 0x10
        ; INT 10h AH=03h: read the cursor back
        mov ah, 0x03
        xor bh, bh
        int 0x10
        mov esi, s_cursor
        call r_puts
        movzx ax, dh
        call r_dec16
        mov esi, s_col
        call r_puts
        movzx ax, dl
        call r_dec16
        mov al, 10
        call r_putc

        ; INT 12h: conventional memory in KiB
        int 0x12
        mov esi, s_mem
        call r_puts
        call r_dec16
        mov esi, s_kib
        call r_puts
        ; INT 11h: equipment word
        int 0x11
        mov esi, s_equip
        call r_puts
        call r_hex16
        mov al, 10
        call r_putc
        ; boot drive
        mov esi, s_drive
        call r_puts
        mov al, [boot_drive]
        call r_hex8
        mov al, 10
        call r_putc

        mov esi, s_done
        call r_puts
        FINAL_HALT

s_title:      db "hello: bootdbg demo image (BIOS services)", 10, 0
s_hello:      db "Hello from bootdbg", 13, 10, 0
s_tty_serial: db "INT 10h AH=0Eh: Hello from bootdbg", 10, 0
s_at:         db "INT 10h AH=13h string"
s_at_len      equ $ - s_at
s_cursor:     db "INT 10h AH=02h/13h/03h: cursor row ", 0
s_col:        db " col ", 0
s_mem:        db "INT 12h: conventional memory ", 0
s_kib:        db " KiB", 10, 0
s_equip:      db "INT 11h: equipment word 0x", 0
s_drive:      db "boot drive ", 0
s_done:       db "DONE", 10, 0
        HALT_MARKER
payload_end:
%include "lib/end.inc"
