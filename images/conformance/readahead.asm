; Page faults at the end of the last present page (paging on, 0-4 MiB mapped, 400000h not
; present): an instruction fetch from the missing page after the instruction before it ran, a
; first instruction whose own load faults at the very address the fetch would, one that ends at
; the page end (it runs, then the fetch faults), one whose load faults elsewhere on the missing
; page, and an instruction straddling the page end.  The #PF handler prints the error code, the
; EIP pushed, CR2, EAX and ECX (EAX 11111111h and ECX 20h before each case).
%include "lib.inc"

CODE0 equ 0x08
DATA0 equ 0x10
PD equ 0x20000
PT equ 0x21000

main:
    lgdt [gdtr]
    lidt [idtr]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp CODE0:pm

bits 32
%include "out32.inc"

pm:
    mov ax, DATA0
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov edi, PT                 ; 0-4 MiB identity mapped, nothing above
    mov eax, 3
    mov ecx, 1024
.fill:
    stosd
    add eax, 0x1000
    loop .fill
    mov edi, PD
    xor eax, eax
    mov ecx, 1024
    rep stosd
    mov dword [PD], PT + 3
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov dword [0x1000], 0x600dcafe
    mov [stack0], esp

; CASE entry, bytes at 3FFFF8h (dword), bytes at 3FFFFCh (dword)
%macro CASE 3
    mov dword [0x3ffff8], %2
    mov dword [0x3ffffc], %3
    mov dword [resume], %%next
    mov eax, 0x11111111
    mov ecx, 0x20
    mov ebp, 3
    jmp %1
%%next:
%endmacro
    CASE 0x3ffffe, 0x90909090, 0xe9290000   ; sub ecx, ebp; then the fetch at 400000h
    CASE 0x3ffff8, 0x0000058b, 0x90900040   ; mov eax, [400000h]; nop; nop
    CASE 0x3ffffa, 0x058b9090, 0x00001000   ; mov eax, [1000h] up to the page end
    CASE 0x3ffff8, 0x0004058b, 0x90900040   ; mov eax, [400004h]; nop; nop
    CASE 0x3ffffc, 0x90909090, 0x00b8e929   ; sub ecx, ebp; mov eax, imm32 across the end
    FINISH32

h_pf:
    mov ebx, eax
    mov ebp, esp
    P32 "#PF ec="
    HEX [ebp]
    P32 " eip="
    HEX [ebp+4]
    P32 " cr2="
    mov eax, cr2
    call hex32p
    P32 " eax="
    HEX ebx
    P32 " ecx="
    HEX ecx
    mov al, 10
    out 0xe9, al
    mov esp, [stack0]
    jmp [resume]

gdt:
    dq 0
    dq 0x00cf9a000000ffff    ; 08 code32
    dq 0x00cf92000000ffff    ; 10 data32
gdt_end:
gdtr: dw gdt_end - gdt - 1
    dd gdt

%macro GATE 3        ; handler, selector, type/attr byte
    dw %1, %2
    db 0, %3
    dw 0
%endmacro
idt:
%assign i 0
%rep 15
  %if i == 14
    GATE h_pf, CODE0, 0x8e
  %else
    dq 0
  %endif
%assign i i+1
%endrep
idt_end:
idtr: dw idt_end - idt - 1
    dd idt

resume: dd 0
stack0: dd 0

%include "tail.inc"
