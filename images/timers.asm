; timers -- port I/O the way boot loaders do it: the 8254 and port 61h polled in tight loops,
; IRQ 0 taken and acknowledged at the 8259, the UART polled before each byte.
;
; 1. TSC-style calibration (GRUB, memtest86+): channel 2 in mode 0 with its gate on, OUT2 polled
;    on port 61h with a counter incremented in the same block -> the number of polls.
; 2. Counter latch loop: channel 0 latched and read LSB/MSB 300 times -> a checksum of the values.
; 3. Read-back: status and count of channels 0 and 2 in one command.
; 4. IRQ 0 at a short period with interrupts on: the handler counts and sends a non-specific EOI
;    (port 20h); the main loop polls the UART's LSR and counts until 16 ticks were taken.
; The values read depend on the exact instruction at which each access happens (bootdbg's clock
; is the instruction count): they are kept in memory (`results`), where the tests compare them
; run against run; the transcript prints only what holds on any PC (QEMU's too), then STATE.

%include "lib/boot.inc"

main:
        cli
        mov esi, s_title
        call r_puts
        NORMALISE_CRS

        ; ---- 1. calibration on channel 2 / port 61h ----
        in al, 0x61
        and al, 0xFD                    ; speaker data off
        or al, 1                        ; gate 2 on
        out 0x61, al
        mov al, 0xB0                    ; channel 2, LSB/MSB, mode 0, binary
        out 0x43, al
        mov al, 0x00
        out 0x42, al
        mov al, 0x08                    ; 0x0800 ticks
        out 0x42, al
        xor ebx, ebx
.poll:  inc ebx
        in al, 0x61
        test al, 0x20
        jz .poll
        mov [res_polls], ebx
        mov esi, s_cal
        call r_puts

        ; ---- 2. counter latch loop on channel 0 ----
        xor edx, edx
        mov cx, 300
.latch: mov al, 0x00                    ; latch channel 0
        out 0x43, al
        in al, 0x40
        mov ah, al
        in al, 0x40
        xchg al, ah
        movzx eax, ax
        rol edx, 5
        xor edx, eax
        nop
        loop .latch
        mov [res_latch], edx
        mov esi, s_latch
        call r_puts

        ; ---- 3. read-back: status and count of channels 0 and 2 ----
        mov al, 0xCA                    ; read-back, count and status, channels 0 and 2
        out 0x43, al
        in al, 0x40                     ; status 0
        mov [res_rb], al
        in al, 0x40                     ; count 0 LSB, MSB
        mov [res_rb + 1], al
        in al, 0x40
        mov [res_rb + 2], al
        in al, 0x42                     ; status 2
        mov [res_rb + 3], al
        in al, 0x42
        mov [res_rb + 4], al
        in al, 0x42
        mov [res_rb + 5], al
        mov esi, s_rb                   ; mode bits of both (OUT0 may be either level)
        call r_puts
        mov al, [res_rb]
        and al, 0x7F
        call r_hex8
        mov al, ' '
        call r_putc
        mov al, [res_rb + 3]
        call r_hex8
        mov al, 10
        call r_putc

        ; ---- 4. IRQ 0 with EOI, the UART polled meanwhile ----
        mov dword [8 * 4], isr0
        mov al, 0x34                    ; channel 0, LSB/MSB, mode 2
        out 0x43, al
        mov al, 0x00
        out 0x40, al
        mov al, 0x01                    ; 256 ticks
        out 0x40, al
        in al, 0x21
        mov [old_imr], al
        and al, 0xFE
        out 0x21, al
        xor edi, edi
        mov dx, 0x3FD
        sti
.wait:  in al, dx                       ; LSR
        inc edi
        cmp word [ticks], 16
        jb .wait
        cli
        mov al, [old_imr]
        out 0x21, al
        mov esi, s_irq
        call r_puts
        mov ax, [ticks]
        call r_dec16
        mov [res_lsr], edi
        mov esi, s_polls
        call r_puts
        SET_FINAL_REGS 0x7c00
        call r_dump_state
        FINAL_HALT

isr0:   push ax
        inc word [ticks]
        cmp word [ticks], 16
        jb .eoi
        in al, 0x21                     ; the 16th tick masks IRQ 0: exactly 16 ticks however
        or al, 0x01                     ; late the host lets QEMU deliver them
        out 0x21, al
.eoi:   mov al, 0x20                    ; non-specific EOI
        out 0x20, al
        pop ax
        iret

STATE_LIB r_

ticks:   dw 0
old_imr: db 0
results:                                ; what was read (timing-dependent)
res_polls: dd 0                         ; port 61h polls until OUT2 rose
res_latch: dd 0                         ; checksum of the latched channel 0 counts
res_rb:    times 6 db 0                 ; read-back: status 0, count 0, status 2, count 2
res_lsr:   dd 0                         ; LSR polls until 16 IRQ 0 ticks
s_title: db "timers: bootdbg demo image (PIT, port 61h, PIC, UART polling)", 10, 0
s_cal:   db "channel 2 calibration: OUT2 rose while port 61h was polled", 10, 0
s_latch: db "channel 0 latch loop: 300 counts latched and read", 10, 0
s_rb:    db "read-back status (OUT0 masked) of channels 0 and 2: ", 0
s_irq:   db "IRQ 0 taken ", 0
s_polls: db " times while the UART's LSR was polled", 10, 0
        HALT_MARKER
payload_end:
%include "lib/end.inc"
