; pmode -- real mode -> 32-bit protected mode -> 16-bit protected mode -> real mode.
;
; Prints a line in each mode (32-bit PM with flat 4 GiB segments, 16-bit PM with 64 KiB
; segments), returns to real mode with a far jump, reloads the segment registers with 0 and
; prints STATE.  The final state is real mode whose hidden segment caches were last loaded in
; 16-bit protected mode (limit FFFF, so this is plain real mode, not unreal mode).  No BIOS
; calls after the boot sector's disk read.

%include "lib/boot.inc"
%include "lib/pm.inc"

main:
        cli
        mov esi, s_title
        call r_puts
        NORMALISE_CRS
        A20_FAST
        lgdt [gdtr]
        mov eax, cr0
        or al, 1                ; CR0.PE
        mov cr0, eax
        jmp 0x08:pm32

        bits 32
pm32:   mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, 0x7c00
        mov esi, s_pm32
        call p_puts
        mov ax, cs
        call p_hex16
        mov esi, s_ds
        call p_puts
        mov ax, ds
        call p_hex16
        mov esi, s_cr0
        call p_puts
        mov eax, cr0
        call p_hex32
        mov al, 10
        call p_putc
        ; 32-bit arithmetic with a 32-bit address above 64 KiB
        mov dword [0x12340], 0x89abcdef
        mov eax, [0x12340]
        mov esi, s_mem32
        call p_puts
        call p_hex32
        mov al, 10
        call p_putc
        jmp 0x18:pm16

        bits 16
pm16:   mov ax, 0x20
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esi, s_pm16
        call r_puts
        mov ax, cs
        call r_hex16
        mov al, 10
        call r_putc
        mov eax, cr0
        and al, 0xfe            ; clear CR0.PE
        mov cr0, eax
        jmp 0x0000:rm

rm:     xor ax, ax
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esi, s_rm
        call r_puts
        mov eax, cr0
        call r_hex32
        mov al, 10
        call r_putc
        SET_FINAL_REGS 0x7c00
        call r_dump_state
        FINAL_HALT

        bits 32
SERIAL_LIB p_
        bits 16
STATE_LIB r_

        align 8
gdt:    dq 0
        DESC 0, 0xfffff, 0x9a, 0xc      ; 08: code, 32-bit, flat 4 GiB
        DESC 0, 0xfffff, 0x92, 0xc      ; 10: data, 32-bit, flat 4 GiB
        DESC 0, 0x0ffff, 0x9a, 0x0      ; 18: code, 16-bit, 64 KiB
        DESC 0, 0x0ffff, 0x92, 0x0      ; 20: data, 16-bit, 64 KiB
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt

s_title: db "pmode: real -> pm32 -> pm16 -> real", 10, 0
s_pm32:  db "pm32: 32-bit protected mode, CS=", 0
s_ds:    db " DS=", 0
s_cr0:   db " CR0=", 0
s_mem32: db "pm32: [00012340] = ", 0
s_pm16:  db "pm16: 16-bit protected mode, CS=", 0
s_rm:    db "real mode again, CR0=", 0
        HALT_MARKER
payload_end:
%include "lib/end.inc"
