; bench-real -- CPU-bound real-mode loop (no BIOS calls after the boot sector's disk read).
;
; ITERATIONS x 8 instructions (add, rol, xor, store, add, and, dec, jnz): ~200 M instructions
; with the default count.  Output: the title line, then STATE (EAX/EDX hold the loop's
; checksum, so a wrong emulation shows) and DONE.  Final state: real mode.

%ifndef ITERATIONS
  %define ITERATIONS 25000000   ; tune here (or nasm -DITERATIONS=n)
%endif

%include "lib/boot.inc"
%include "lib/pm.inc"

BUF_SEG equ 0x2000

main:
        cli
        mov esi, s_title
        call r_puts
        NORMALISE_CRS
        mov ax, BUF_SEG
        mov ds, ax
        xor eax, eax
        mov edx, 0x9e3779b9
        mov ecx, ITERATIONS
        xor si, si
.loop:  add eax, edx
        rol edx, 5
        xor edx, eax
        mov [si], eax
        add si, 4
        and si, 0x0ffc
        dec ecx
        jnz .loop
        xor bx, bx
        mov ds, bx
        ; final state: EAX/EDX = checksum, ECX = 0, the rest fixed
        mov esp, 0x7c00
        push dword FINAL_EFL
        popfd
        mov ebx, FINAL_EBX
        mov esi, FINAL_ESI
        mov edi, FINAL_EDI
        mov ebp, FINAL_EBP
        call r_dump_state
        FINAL_HALT

STATE_LIB r_

s_title: db "bench-real: real-mode loop, ", %str(ITERATIONS), " iterations", 10, 0
        HALT_MARKER
payload_end:
%include "lib/end.inc"
