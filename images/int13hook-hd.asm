; int13hook-hd -- an INT 13h hook the way disk-encryption pre-boot code installs one.
;
; Hard-disk image (1 MiB).  The boot code takes 1 KiB off the top of conventional memory
; (BDA word 0x413), copies its handler to the freed block (segment = new size * 64), saves
; the old INT 13h vector inside the handler and installs the new one.  The handler
; intercepts AH=02h (CHS read) and AH=42h (EDD extended read): it chains to the old handler
; with `pushf; call far [old]`, then "decrypts" (XOR 5Ah) every transferred sector whose LBA is
; SECRET_LBA or above; other functions go straight to the old handler.  The boot code then
; reads LBA SECRET_LBA..SECRET_LBA+3 with AH=02h and again with AH=42h (all through the hook)
; and prints the decrypted messages, plus LBA 0 through the hook (must stay plain).
; BIOS calls throughout, so no STATE block.  The "old vector" line is BIOS-specific.

%define HARDDISK
%include "lib/boot.inc"

%define H(x) ((x) - hook_start)
BUF1 equ 0x1000
BUF2 equ 0x2000

main:
        mov esi, s_title
        call r_puts
        ; geometry of the boot drive for the hook's CHS -> LBA
        mov ah, 0x08
        mov dl, [boot_drive]
        push es
        int 0x13
        pop es
        and cl, 0x3f
        mov [hook_spt], cl
        inc dh
        mov [hook_heads], dh
        ; take 1 KiB off the top of conventional memory
        mov esi, s_mem
        call r_puts
        mov ax, [0x413]
        call r_dec16
        mov esi, s_arrow
        call r_puts
        dec ax
        mov [0x413], ax
        call r_dec16
        mov esi, s_kib
        call r_puts
        shl ax, 6                       ; KiB -> paragraphs
        mov [new_vec + 2], ax
        ; copy the handler there, with the old vector in its data
        mov ebx, [0x13 * 4]
        mov [hook_old13], ebx
        mov es, ax
        xor di, di
        mov si, hook_start
        mov cx, hook_end - hook_start
        rep movsb
        xor ax, ax
        mov es, ax
        mov eax, [new_vec]
        cli
        mov [0x13 * 4], eax
        sti
        mov esi, s_old
        call r_puts
        mov eax, ebx
        call print_vec
        mov esi, s_new
        call r_puts
        mov eax, [0x13 * 4]
        call print_vec

        ; AH=02h through the hook: LBA 0 (not encrypted), then the four secret sectors
        mov ax, 0x0201
        mov cx, 0x0001
        xor dh, dh
        mov dl, [boot_drive]
        mov bx, BUF1
        int 0x13
        jc near read_fail
        mov esi, s_lba0
        cmp word [BUF1 + 510], 0xaa55
        je .plain
        mov esi, s_lba0_bad
.plain: call r_puts
        mov ax, 0x0200 + 4
        mov cx, SECRET_LBA + 1          ; cylinder 0, sector SECRET_LBA+1 (head 0)
        xor dh, dh
        mov dl, [boot_drive]
        mov bx, BUF1
        int 0x13
        jc near read_fail
        mov esi, s_ah02
        mov ebx, BUF1
        call print_secrets

        ; AH=41h: EDD present?  AH=42h through the hook
        mov ah, 0x41
        mov bx, 0x55aa
        mov dl, [boot_drive]
        int 0x13
        jc .noedd
        cmp bx, 0xaa55
        jne .noedd
        mov esi, s_edd
        call r_puts
        mov ah, 0x42
        mov dl, [boot_drive]
        mov si, dap
        int 0x13
        jc read_fail
        mov esi, s_ah42
        mov ebx, BUF2
        call print_secrets
        jmp .done
.noedd: mov esi, s_noedd
        call r_puts
.done:  mov esi, s_done
        call r_puts
        FINAL_HALT

read_fail:
        push ax
        mov esi, s_rfail
        call r_puts
        pop ax
        mov al, ah
        call r_hex8
        mov al, 10
        call r_putc
        jmp final_halt

; print_vec: EAX = segment:offset (far pointer) as SSSS:OOOO and a newline
print_vec:
        ror eax, 16
        call r_hex16
        mov al, ':'
        call r_putc
        ror eax, 16
        call r_hex16
        mov al, 10
        jmp r_putc

; print_secrets: ESI = prefix, EBX = buffer of 4 sectors; one line per sector
print_secrets:
        mov cx, 4
.sec:   call r_puts
        push esi
        mov esi, ebx
        call r_puts
        pop esi
        add ebx, 512
        loop .sec
        ret

        align 4
new_vec: dw 0, 0
dap:    db 0x10, 0
        dw 4                            ; sectors
        dw BUF2, 0                      ; buffer 0000:2000
        dq SECRET_LBA

; ---- the resident handler (runs at segment new_vec+2, offset 0) ----
hook_start:
        sti
        cmp ah, 0x02
        je .chs
        cmp ah, 0x42
        je .ext
        jmp far [cs:H(hook_old13)]
.chs:   mov [cs:H(hook_ax)], ax
        push ax
        push dx
        push di
        ; LBA of the first sector = (C * heads + H) * spt + S - 1
        mov al, cl
        shr al, 6
        mov ah, al
        mov al, ch                      ; AX = cylinder
        movzx di, byte [cs:H(hook_heads)]
        mul di                          ; AX = C * heads (DX clobbered)
        mov di, sp
        mov di, [ss:di + 2]             ; the saved DX: DH = head
        shr di, 8
        add ax, di
        movzx di, byte [cs:H(hook_spt)]
        mul di
        mov di, cx
        and di, 0x3f
        add ax, di
        dec ax
        mov [cs:H(hook_lba)], ax
        pop di
        pop dx
        pop ax
        pushf
        call far [cs:H(hook_old13)]
        jc .cret
        push eax
        push cx
        push di
        movzx cx, byte [cs:H(hook_ax)]  ; the requested sector count
        movzx eax, word [cs:H(hook_lba)]
        mov di, bx
        call .decrypt
        pop di
        pop cx
        pop eax
        clc
.cret:  retf 2
.ext:   pushf
        call far [cs:H(hook_old13)]
        jc .edone
        push eax
        push cx
        push di
        push es
        mov cx, [si + 2]
        les di, [si + 4]
        mov eax, [si + 8]
        call .decrypt
        pop es
        pop di
        pop cx
        pop eax
        clc
.edone: retf 2
; ES:DI = buffer, EAX = LBA of its first sector, CX = sectors; XOR 5Ah on LBAs >= SECRET_LBA
.decrypt:
        jcxz .dret
        push cx
        push di
        cmp eax, SECRET_LBA
        jb .dnext
        mov cx, 512
.x:     xor byte [es:di], 0x5a
        inc di
        loop .x
.dnext: pop di
        pop cx
        add di, 512
        inc eax
        loop .decrypt
.dret:  ret
hook_old13:  dd 0
hook_heads:  db 0
hook_spt:    db 0
hook_ax:     dw 0
hook_lba:    dw 0
hook_end:

s_title: db "int13hook-hd: INT 13h hook with on-the-fly decryption", 10, 0
s_mem:   db "conventional memory ", 0
s_arrow: db " -> ", 0
s_kib:   db " KiB", 10, 0
s_old:   db "old INT 13h vector ", 0
s_new:   db "new INT 13h vector ", 0
s_lba0:  db "AH=02h LBA 0 through the hook: plain (55AA)", 10, 0
s_lba0_bad: db "AH=02h LBA 0 through the hook: FAIL altered", 10, 0
s_ah02:  db "AH=02h: ", 0
s_edd:   db "AH=41h: EDD present", 10, 0
s_noedd: db "AH=41h: no EDD, AH=42h skipped", 10, 0
s_ah42:  db "AH=42h: ", 0
s_rfail: db "FAIL read error AH=", 0
s_done:  db "DONE", 10, 0
        HALT_MARKER
payload_end:
        times 512 - (($ - $$) % 512) db 0
SECRET_LBA equ ($ - $$) / 512

%macro SECRET 1                         ; one encrypted sector holding the asciz line %1
  %strlen %%n %1
  %assign %%i 1
  %rep %%n
    %substr %%c %1 %%i
        db %%c ^ 0x5a
    %assign %%i %%i + 1
  %endrep
        db 10 ^ 0x5a
        times 512 - %%n - 1 db 0x5a     ; zeros, encrypted
%endmacro
%assign n 0
%rep 4
  %defstr nstr %eval(SECRET_LBA + n)
  %strcat line "secret sector ", nstr, " ok"
        SECRET line
  %assign n n + 1
%endrep
%include "lib/end.inc"
