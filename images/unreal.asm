; unreal -- real mode with 4 GiB DS/ES limits ("unreal" / "big real" mode).
;
; Enables A20 through port 92h and checks it (no wrap at 1 MiB), enters 16-bit protected mode,
; loads DS and ES from a flat 4 GiB data descriptor, clears CR0.PE and reloads DS=ES=0 in real
; mode: the hidden limits stay 0xFFFFFFFF.  Then writes and reads dwords above 1 MiB with 32-bit
; addresses (ESI=00100000, EDI=01000000 via ES) and prints them.  Final state: real mode
; (PE=0) with DS and ES limit 4 GiB, CS/SS/FS/GS limit 64 KiB.

%include "lib/boot.inc"
%include "lib/pm.inc"

main:
        cli
        mov esi, s_title
        call r_puts
        NORMALISE_CRS
        ; A20 check through the 64 KiB real-mode window: FFFF:0510 is linear 0x100500,
        ; which aliases 0000:0500 when A20 is off.  First with A20 forced off, then on.
        in al, 0x92
        and al, 0xfc            ; A20 off (bit 1), never reset (bit 0)
        out 0x92, al
        call a20_wraps
        mov esi, s_a20off_ok
        je .off
        mov esi, s_a20off_bad
.off:   call r_puts
        A20_FAST
        call a20_wraps
        mov esi, s_a20on
        jne .on
        mov esi, s_a20on_bad
.on:    call r_puts

        lgdt [gdtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:.pm16
.pm16:  mov ax, 0x10            ; flat 4 GiB data
        mov ds, ax
        mov es, ax
        mov eax, cr0
        and al, 0xfe
        mov cr0, eax
        jmp 0x0000:.rm
.rm:    xor ax, ax
        mov ds, ax
        mov es, ax
        mov esi, s_unreal
        call r_puts

        mov esi, 0x00100000
        mov dword [esi], 0xcafebabe
        mov edi, 0x01000000
        mov dword [es:edi], 0x600dd00d
        mov esi, s_rd1
        call r_puts
        mov esi, 0x00100000
        mov eax, [esi]
        call r_hex32
        mov al, 10
        call r_putc
        mov esi, s_rd2
        call r_puts
        mov eax, [es:edi]
        call r_hex32
        mov al, 10
        call r_putc
        ; the dword at linear 0 must not have changed (no wrap)
        mov esi, s_nowrap
        mov eax, [0x0000]
        cmp eax, 0xcafebabe
        jne .nw
        mov esi, s_wrap
.nw:    call r_puts

        SET_FINAL_REGS 0x7c00
        call r_dump_state
        FINAL_HALT

; a20_wraps: ZF=1 if a write to linear 0x100500 shows up at linear 0x500 (A20 off).
a20_wraps:
        push ax
        push fs
        mov ax, 0xffff
        mov fs, ax
        mov byte [0x0500], 0x00
        mov byte [fs:0x0510], 0xa5
        cmp byte [0x0500], 0xa5
        mov byte [0x0500], 0x00
        pop fs
        pop ax
        ret

STATE_LIB r_

        align 8
gdt:    dq 0
        DESC 0, 0x0ffff, 0x9a, 0x0      ; 08: code, 16-bit, 64 KiB
        DESC 0, 0xfffff, 0x92, 0x8      ; 10: data, 16-bit (B=0), 4 GiB (G=1)
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt

s_title:  db "unreal: real mode with 4 GiB data segments", 10, 0
s_a20off_ok:  db "A20 disabled via port 92h: 1 MiB wraps to 0", 10, 0
s_a20off_bad: db "A20 disabled via port 92h: no wrap (A20 gate not emulated?)", 10, 0
s_a20on:      db "A20 enabled via port 92h: no wrap at 1 MiB", 10, 0
s_a20on_bad:  db "FAIL A20 still wraps after port 92h", 10, 0
s_unreal: db "back in real mode, DS/ES limit 4 GiB", 10, 0
s_rd1:    db "[ds:00100000] = ", 0
s_rd2:    db "[es:01000000] = ", 0
s_nowrap: db "linear 00000000 untouched", 10, 0
s_wrap:   db "FAIL write at 1 MiB wrapped to 0", 10, 0
        HALT_MARKER
payload_end:
%include "lib/end.inc"
