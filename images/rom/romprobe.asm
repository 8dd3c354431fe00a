; Which parts of the BIOS area (C0000h-FFFFFh) a guest can write after POST: prints on port E9h,
; so that bootdbg can be compared with qemu-system-i386 7.2 + SeaBIOS, where the i440FX PAM
; registers make the BIOS and the option-ROM area read-only (writes are dropped, never fault).
; Built with the conformance prelude (-I images/conformance/).
;
; Output:
;  - "PAM xx xx xx xx xx xx xx": host bridge registers 59h-5Fh (PCI mechanism #1);
;  - one line per 16 KiB block, "C0000 WWWWWWWW": one letter per 2 KiB, W when a byte written
;    at the start of that 2 KiB reads back changed, R when the write was dropped (every byte
;    is put back afterwards);
;  - "straddle": a word written across each 16 KiB boundary (xxxFFFh/xxx000h+1), per byte;
;  - "stosw", "movsb", "push/call", "xchg/lock": a string store, a string copy, stack pushes and
;    a near call's return address, an XCHG and a LOCK INC, into F000:E000 (read-only) and then
;    E800:0000 (RAM, the control), each printing which bytes changed;
;  - "unlocked": the same first test after setting PAM0 (59h) to 30h (F segment read-write),
;    then "relocked" after restoring it.
%include "lib.inc"

CFG equ 0xcf8
DAT equ 0xcfc

main:
    PRINT "PAM"
    mov di, 0x59
.pam:
    call pam_read
    call space
    call hex8
    inc di
    cmp di, 0x60
    jb .pam
    call newline

    ; -- every 2 KiB from C0000h to FFFFFh: byte write, read back, restore
    mov bx, 0xc000              ; segment of the 16 KiB block
.blk:
    mov ax, bx
    call hex16
    mov al, '0'
    out 0xe9, al
    call space
    mov es, bx
    xor di, di
.sub:
    call probe_byte
    add di, 0x800
    cmp di, 0x4000
    jb .sub
    call newline
    add bx, 0x400
    jnz .blk

    ; -- a word across each 16 KiB boundary from C4000h to FC000h
    PRINT "straddle"
    mov bx, 0xc3ff
.str:
    mov es, bx
    mov di, 0xf
    mov ax, [es:di]
    mov cx, ax
    not ax
    mov [es:di], ax
    mov dx, [es:di]
    mov [es:di], cx             ; put back what a writable byte had
    call space
    mov ax, bx
    inc ax
    call hex16
    mov al, ':'
    out 0xe9, al
    mov ax, dx
    xor ax, cx                  ; per byte: FF = written, 00 = dropped
    call hex16
    add bx, 0x400
    cmp bx, 0xfc00
    jb .str
    call newline

    ; -- stores of every kind into F000:E000 (read-only) and, as the control, E800:0000 (RAM)
    mov bx, 0xf000
    mov bp, 0xe000
    call kinds
    mov bx, 0xe800
    xor bp, bp
    call kinds

    ; -- PAM0 = 30h: the F segment becomes read-write RAM
    mov di, 0x59
    call pam_read
    mov [pam0], al
    mov al, 0x30
    call pam_write
    PRINT "unlocked "
    mov bx, 0xf000
    mov es, bx
    xor di, di
    call probe_byte
    mov di, 0xe000
    call probe_byte
    mov di, 0xfff0
    call probe_byte
    call newline
    mov di, 0x59
    mov al, [pam0]
    call pam_write
    PRINT "relocked "
    mov di, 0xe000
    call probe_byte
    call newline
    jmp finish

; probe_byte: ES:DI -- print W if a write of the complemented byte sticks (and put it back), R if not
probe_byte:
    push ax
    push dx
    mov al, [es:di]
    mov dl, al
    not al
    mov [es:di], al
    mov al, [es:di]
    mov [es:di], dl
    cmp al, dl
    mov al, 'R'
    je .o
    mov al, 'W'
.o: out 0xe9, al
    pop dx
    pop ax
    ret

;; kinds: BX:BP = 8 bytes to store into with a string store, a string copy, stack pushes and a
; near call, an XCHG and a LOCK-prefixed RMW; after each, prints per byte what changed (the XOR
; of after and before: 00 = the store was dropped) and puts the 8 bytes back.
kinds:
    mov es, bx
    PRINT "stosw "
    call save8
    mov di, bp
    mov cx, 4
    mov ax, 0x5aa5
    rep stosw
    call diff8
    PRINT "movsb "
    call save8
    mov si, 0x7c00
    mov di, bp
    mov cx, 8
    rep movsb
    call diff8
    PRINT "push/call "
    call save8
    cli
    mov [save_sp], sp
    mov ss, bx
    lea sp, [bp+8]
    push dword 0x11223344
    call .callee
.callee:
    xor ax, ax
    mov ss, ax
    mov sp, [save_sp]
    call diff8
    PRINT "xchg/lock "
    call save8
    mov di, bp
    mov ax, 0x6996
    xchg [es:di], ax
    lock inc dword [es:di+4]
    call diff8
    ret

; save8: keep the 8 bytes at ES:BP; diff8: print (now XOR kept) per byte, newline, put them back
save8:
    mov eax, [es:bp]
    mov [save0], eax
    mov eax, [es:bp+4]
    mov [save1], eax
    ret
diff8:
    mov si, save0
    mov di, bp
    mov cx, 8
.l: mov al, [es:di]
    xor al, [si]
    call space
    call hex8
    inc si
    inc di
    loop .l
    call newline
    mov eax, [save0]
    mov [es:bp], eax
    mov eax, [save1]
    mov [es:bp+4], eax
    ret

; pam_read: AL = host bridge register DI; pam_write: register DI = AL
pam_read:
    push dx
    call pam_addr
    mov dx, di
    and dx, 3
    add dx, DAT
    in al, dx
    pop dx
    ret
pam_write:
    push dx
    call pam_addr
    mov dx, di
    and dx, 3
    add dx, DAT
    out dx, al
    pop dx
    ret
pam_addr:
    push eax
    movzx eax, di
    and al, 0xfc
    or eax, 0x80000000
    mov dx, CFG
    out dx, eax
    pop eax
    ret

save0: dd 0
save1: dd 0
save_sp: dw 0
pam0: db 0

%include "tail.inc"
