; bench-pm32 -- the bench-real loop in 32-bit protected mode (flat segments, no paging).
;
; ITERATIONS x 8 instructions: ~200 M instructions with the default count.  Output: the title
; line, STATE (EAX/EDX = checksum; same values as bench-real) and DONE.  Final state: PM32.

%ifndef ITERATIONS
  %define ITERATIONS 25000000   ; tune here (or nasm -DITERATIONS=n)
%endif

%include "lib/boot.inc"
%include "lib/pm.inc"

BUF equ 0x20000

main:
        cli
        mov esi, s_title
        call r_puts
        NORMALISE_CRS
        A20_FAST
        lgdt [gdtr]
        mov eax, cr0
        or al, 1
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
        xor eax, eax
        mov edx, 0x9e3779b9
        mov ecx, ITERATIONS
        mov esi, BUF
.loop:  add eax, edx
        rol edx, 5
        xor edx, eax
        mov [esi], eax
        add esi, 4
        and esi, BUF + 0x0ffc
        dec ecx
        jnz .loop
        push dword FINAL_EFL
        popfd
        mov ebx, FINAL_EBX
        mov esi, FINAL_ESI
        mov edi, FINAL_EDI
        mov ebp, FINAL_EBP
        call p_dump_state
        FINAL_HALT

SERIAL_LIB p_
STATE_LIB p_

        align 8
gdt:    dq 0
        DESC 0, 0xfffff, 0x9a, 0xc      ; 08: code32 flat
        DESC 0, 0xfffff, 0x92, 0xc      ; 10: data32 flat
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt

s_title: db "bench-pm32: 32-bit protected-mode loop, ", %str(ITERATIONS), " iterations", 10, 0
        HALT_MARKER
payload_end:
%include "lib/end.inc"
