; longmode -- real mode straight into 64-bit long mode (and a detour through compatibility mode).
;
; Checks CPUID for long mode, builds 4-level page tables at 0x1000 (PML4), 0x2000 (PDPT),
; 0x3000 (PD) identity-mapping the first 2 MiB with one 2 MiB page, sets CR4.PAE, CR3,
; EFER.LME (WRMSR), then CR0.PG|PE in one write and far-jumps to a 64-bit code segment.
; Prints 64-bit values, far-returns into a 32-bit compatibility-mode segment, prints, jumps back
; to 64-bit mode and prints STATE with 64-bit registers (16 hex digits, RAX..RSP; R8-R15 are
; set to 0 and not printed).  Needs a 64-bit CPU: under QEMU use qemu-system-x86_64.

%include "lib/boot.inc"
%include "lib/pm.inc"
%include "lib/serial64.inc"

PML4 equ 0x1000
PDPT equ 0x2000
PD   equ 0x3000

main:
        cli
        mov esi, s_title
        call r_puts
        NORMALISE_CRS
        mov eax, 0x80000000
        cpuid
        cmp eax, 0x80000001
        jb .nolm
        mov eax, 0x80000001
        cpuid
        bt edx, 29
        jc .lm
.nolm:  mov esi, s_nolm
        call r_puts
        jmp final_halt
.lm:    A20_FAST
        ; page tables
        xor eax, eax
        mov edi, PML4
        mov ecx, 3 * 4096 / 4
        rep stosd
        mov dword [PML4], PDPT | 3      ; present, writable
        mov dword [PDPT], PD | 3
        mov dword [PD], 0x00000083      ; 2 MiB page at 0: present, writable, PS
        mov eax, PML4
        mov cr3, eax
        mov eax, 0x20                   ; CR4.PAE
        mov cr4, eax
        mov ecx, 0xc0000080             ; IA32_EFER
        rdmsr
        or eax, 0x100                   ; LME
        wrmsr
        lgdt [gdtr]
        mov eax, cr0
        or eax, 0x80000001              ; PG | PE
        mov cr0, eax
        jmp 0x08:lm64

        bits 64
lm64:   mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov rsp, 0x7c00
        mov rsi, s_lm
        call q_puts
        mov ecx, 0xc0000080
        rdmsr
        call q_hex32
        mov al, 10
        call q_putc
        mov rsi, s_rax
        call q_puts
        mov rax, 0x0123456789abcdef
        call q_hex64
        mov al, 10
        call q_putc
        mov rsi, s_mul
        call q_puts
        mov eax, 0xffffffff
        mul rax                         ; RDX:RAX = (2^32-1)^2
        call q_hex64
        mov al, 10
        call q_putc
        mov rsi, s_riprel
        call q_puts
        lea rax, [rel lm64]
        call q_hex64
        mov al, 10
        call q_putc
        ; into compatibility mode through a far return
        push qword 0x18
        mov rax, compat32
        push rax
        o64 retf

        bits 32
compat32:
        mov esi, s_compat
        call p_puts
        mov ax, cs
        call p_hex16
        mov al, 10
        call p_putc
        jmp 0x08:back64

        bits 64
back64: mov rsi, s_back
        call q_puts
        xor r8, r8
        xor r9, r9
        xor r10, r10
        xor r11, r11
        xor r12, r12
        xor r13, r13
        xor r14, r14
        xor r15, r15
        mov rsp, 0x7c00
        push qword FINAL_EFL
        popfq
        mov rax, 0x1122334455667788
        mov rbx, 0x99aabbccddeeff00
        mov rcx, FINAL_ECX
        mov rdx, FINAL_EDX
        mov rsi, FINAL_ESI
        mov rdi, FINAL_EDI
        mov rbp, FINAL_EBP
        call q_dump_state
        FINAL_HALT

SERIAL_LIB64 q_
STATE_LIB64 q_
        bits 32
SERIAL_LIB p_
        bits 16

        align 8
gdt:    dq 0
        DESC 0, 0xfffff, 0x9a, 0xa      ; 08: code, 64-bit (L=1, D=0), G
        DESC 0, 0xfffff, 0x92, 0xc      ; 10: data, flat
        DESC 0, 0xfffff, 0x9a, 0xc      ; 18: code, 32-bit (compatibility mode)
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt

s_title:  db "longmode: real mode -> 64-bit long mode", 10, 0
s_nolm:   db "FAIL CPU has no long mode (CPUID 80000001h EDX bit 29)", 10, 0
s_lm:     db "64-bit: long mode active, EFER=", 0
s_rax:    db "64-bit: RAX=", 0
s_mul:    db "64-bit: FFFFFFFFh squared=", 0
s_riprel: db "64-bit: RIP-relative LEA=", 0
s_compat: db "compat: 32-bit code in long mode, CS=", 0
s_back:   db "64-bit: back from compatibility mode", 10, 0
        HALT_MARKER
payload_end:
%include "lib/end.inc"
