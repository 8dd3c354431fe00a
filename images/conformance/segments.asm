; Segment loads and the task register in protected mode: the faults a selector load raises
; (beyond the GDT limit, not present, SS not writable, null SS, a code segment in DS that is not
; readable), LTR of a busy TSS, STR, LAR/LSL/VERR/VERW, and unreal mode (a 4 GiB data limit kept
; after the return to real mode).
%include "lib.inc"

CODE equ 0x08
DATA equ 0x10
NOTPRESENT equ 0x18
READONLY equ 0x20
EXECONLY equ 0x28
TSSSEL equ 0x30
DATA16 equ 0x38
CODE16 equ 0x40

main:
    lgdt [gdtr]
    lidt [idtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp CODE:pm

bits 32
%include "out32.inc"
%macro NL 0
    push eax
    mov al, 10
    out 0xe9, al
    pop eax
%endmacro

%macro HEC 2
%1:
    mov ebp, esp
    mov ax, DATA
    mov ds, ax
    P32 %2, " ec="
    HEX [ebp]
    P32 " eip=base+"
    mov eax, [ebp+4]
    sub eax, [base]
    call hex32p
    NL
    mov ax, DATA
    mov ss, ax
    mov esp, 0x7000
    jmp [resume]
%endmacro
HEC h_np, "#NP"
HEC h_ss, "#SS"
HEC h_gp, "#GP"

%macro CASE 2
    mov dword [base], %1
    mov dword [resume], %2
%endmacro

pm:
    mov ax, DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    CASE .a1, .r1
    mov ax, 0x80                 ; beyond the GDT limit
.a1: mov es, ax
.r1:
    CASE .a2, .r2
    mov ax, NOTPRESENT
.a2: mov es, ax
.r2:
    CASE .a3, .r3
    mov ax, NOTPRESENT
.a3: mov ss, ax                  ; a not-present SS is #SS
.r3:
    CASE .a4, .r4
    mov ax, READONLY
.a4: mov ss, ax                  ; SS must be writable
.r4:
    CASE .a5, .r5
    xor ax, ax
.a5: mov ss, ax                  ; null SS in 32-bit mode
.r5:
    CASE .a6, .r6
    mov ax, EXECONLY
.a6: mov ds, ax                  ; execute-only code in DS
.r6:
    CASE .a7, .r7
    mov ax, CODE
.a7: mov ss, ax                  ; code segment in SS
.r7:
    ; null into DS is fine (the fault comes at the first use, which QEMU does not check)
    xor ax, ax
    mov fs, ax
    mov ax, fs
    P32 "null FS loaded="
    movzx eax, ax
    call hex32p
    NL
    ; the task register
    str ax
    P32 "STR before LTR="
    movzx eax, ax
    call hex32p
    NL
    mov ax, TSSSEL
    ltr ax
    str ax
    P32 "STR="
    movzx eax, ax
    call hex32p
    P32 " TSS type now="
    movzx eax, byte [gdt + TSSSEL + 5]
    call hex32p
    NL
    CASE .a8, .r8
    mov ax, TSSSEL
.a8: ltr ax                      ; busy now: #GP(sel)
.r8:
    ; LAR / LSL / VERR / VERW
    mov esi, selectors
.q: lodsw
    test ax, ax
    jz .qd
    mov bx, ax
    P32 "sel "
    movzx eax, bx
    call hex32p
    xor eax, eax
    lar eax, ebx
    setz cl
    and eax, 0x00f0ff00          ; (bits 16-19, the limit's top, are undefined)
    P32 " lar="
    call hex32p
    mov al, cl
    call bit
    xor eax, eax
    lsl eax, ebx
    setz cl
    P32 " lsl="
    call hex32p
    mov al, cl
    call bit
    verr bx
    setz al
    P32 " r"
    call bit
    verw bx
    setz al
    P32 " w"
    call bit
    NL
    jmp .q
.qd:
    ; unreal mode: DS with a 4 GiB limit, back to real mode, read above 1 MiB through DS
    mov dword [0x200000], 0x600dcafe
    mov ax, DATA
    mov fs, ax
    jmp CODE16:.pm16
bits 16
.pm16:
    mov ax, DATA16
    mov ss, ax
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax
    jmp 0:.rm
.rm:
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    mov ds, ax
    mov es, ax
    lidt [ivt]
    mov ebx, 0x200000
    mov eax, [fs:ebx]            ; FS keeps its 4 GiB limit in real mode
    PRINT "unreal read="
    call hex32
    call newline
    jmp finish

bits 32
bit:
    push eax
    and al, 1
    add al, '0'
    out 0xe9, al
    pop eax
    ret

selectors: dw CODE, DATA, NOTPRESENT, READONLY, EXECONLY, TSSSEL, 0x80, 0

gdt:
    dq 0
    dq 0x00cf9a000000ffff    ; 08 code32
    dq 0x00cf92000000ffff    ; 10 data32
    dq 0x00cf12000000ffff    ; 18 data, not present
    dq 0x00cf90000000ffff    ; 20 data, read-only
    dq 0x00cf98000000ffff    ; 28 code, execute-only
    dw 0x67, tss, 0x8900, 0  ; 30 TSS32 available
    dq 0x000092000000ffff    ; 38 data16 64K
    dq 0x00009a000000ffff    ; 40 code16
gdt_end:
gdtr: dw gdt_end - gdt - 1
    dd gdt

%macro GATE 1
    dw %1, CODE
    db 0, 0x8e
    dw 0
%endmacro
idt:
    times 11 dq 0
    GATE h_np                ; 11
    GATE h_ss                ; 12
    GATE h_gp                ; 13
idt_end:
idtr: dw idt_end - idt - 1
    dd idt
ivt: dw 0x3ff
    dd 0

tss: times 0x68 db 0
base: dd 0
resume: dd 0

%include "tail.inc"
