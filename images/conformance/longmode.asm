; Long mode: interrupt delivery through 16-byte IDT gates and the faults raised while delivering
; INT n (not-present gate, 32-bit target CS, IDT limit), INT 6, #UD encodings (UD2, SYSRET with
; EFER.SCE=0), the pushed frame (RIP, CS, RFLAGS, RSP, SS) and an IST stack from the 64-bit TSS.
%include "lib.inc"

PML4 equ 0x10000            ; PML4, PDPT, PD at 10000h, 11000h, 12000h: the first 2 MiB, 1:1
CODE64 equ 0x08
DATA equ 0x10
CODE32 equ 0x18
TSS64 equ 0x20
STACK equ 0x9000
IST1 equ 0x6000

main:
    mov ax, PML4 >> 4
    mov es, ax
    xor di, di
    xor eax, eax
    mov cx, 3 * 4096 / 4
    rep stosd
    mov dword [es:0x0000], PML4 + 0x1003
    mov dword [es:0x1000], PML4 + 0x2003
    mov dword [es:0x2000], 0x83          ; 2 MiB page at 0
    xor ax, ax
    mov es, ax
    lgdt [gdtr]
    lidt [idtr]
    mov eax, cr4
    or eax, 0x20                         ; PAE
    mov cr4, eax
    mov eax, PML4
    mov cr3, eax
    mov ecx, 0xc0000080
    rdmsr
    or eax, 0x100                        ; LME (SCE stays 0)
    wrmsr
    mov eax, cr0
    or eax, 0x80000001
    mov cr0, eax
    jmp CODE64:lm

bits 64
puts64:
    push rax
.l: lodsb
    test al, al
    jz .d
    out 0xe9, al
    jmp .l
.d: pop rax
    ret
hex64:                      ; RAX, 16 digits
    push rcx
    mov ecx, 16
.n: rol rax, 4
    push rax
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe .o
    add al, 7
.o: out 0xe9, al
    pop rax
    loop .n
    pop rcx
    ret
%macro P64 1+
    jmp %%over
%%s: db %1, 0
%%over:
    push rsi
    lea rsi, [rel %%s]
    call puts64
    pop rsi
%endmacro
%macro H64 1
    push rax
    mov rax, %1
    call hex64
    pop rax
%endmacro

; handler: name, [error code], RIP-base, CS, RFLAGS, RSP, SS, and whether it runs on the IST stack
%macro HANDLER 3            ; label, name, has error code
%1:
    mov rbp, rsp
  %if %3
    P64 %2, " ec="
    H64 [rbp]
    add rbp, 8
  %else
    P64 %2
  %endif
    P64 " rip=base+"
    mov rax, [rbp]
    sub rax, [base]
    call hex64
    P64 " cs="
    H64 [rbp+8]
    P64 " rfl="
    H64 [rbp+16]
    P64 " rsp="
    H64 [rbp+24]
    P64 " ss="
    H64 [rbp+32]
    P64 " on="
    mov rax, rsp
    and rax, ~0xfff
    call hex64
    mov al, 10
    out 0xe9, al
    mov rsp, STACK
    jmp [resume]
%endmacro

HANDLER h40, "INT 40h", 0
HANDLER h42, "INT 42h (IST1)", 0
HANDLER hud, "vector 6", 0
HANDLER hnp, "#NP", 1
HANDLER hgp, "#GP", 1

%macro CASE 2
    mov qword [base], %1
    mov qword [resume], %2
%endmacro

lm:
    mov ax, DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, STACK
    mov ax, TSS64
    ltr ax
    CASE .a1, .r1
    sub rsp, 8                          ; (misaligned: delivery aligns RSP to 16)
.a1: int 0x40
.r1:
    CASE .a2, .r2
.a2: int 0x42
.r2:
    CASE .a3, .r3
.a3: int 0x41                           ; gate not present
.r3:
    CASE .a4, .r4
.a4: int 0x43                           ; target CS is 32-bit code
.r4:
    CASE .a5, .r5
.a5: int 0x50                           ; beyond the IDT limit
.r5:
    CASE .a6, .r6
.a6: int 6
.r6:
    CASE .a7, .r7
.a7: ud2
.r7:
    CASE .a8, .r8
.a8: db 0x0f, 0x07                      ; SYSRET with EFER.SCE=0
.r8:
    P64 "END", 10
    mov al, 0
    out 0xf4, al
    mov dx, 0x8900
    lea rsi, [rel msg_shutdown]
.s: lodsb
    test al, al
    jz .h
    out dx, al
    jmp .s
.h: cli
    hlt
    jmp .h

align 8
gdt:
    dq 0
    dq 0x00209a0000000000               ; 08 code64
    dq 0x00cf92000000ffff               ; 10 data
    dq 0x00cf9a000000ffff               ; 18 code32
    dw 0x67, tss, 0x8900, 0             ; 20 TSS64 (16 bytes)
    dq 0
gdt_end:
gdtr: dw gdt_end - gdt - 1
    dd gdt

%macro GATE 4               ; handler, selector, type byte, ist
    dw %1, %2
    db %4, %3
    dw 0
    dq 0
%endmacro
idt:
%assign i 0
%rep 0x50
  %if i == 6
    GATE hud, CODE64, 0x8e, 0
  %elif i == 11
    GATE hnp, CODE64, 0x8e, 0
  %elif i == 13
    GATE hgp, CODE64, 0x8e, 0
  %elif i == 0x40
    GATE h40, CODE64, 0x8e, 0
  %elif i == 0x41
    GATE h40, CODE64, 0x0e, 0
  %elif i == 0x42
    GATE h42, CODE64, 0x8e, 1
  %elif i == 0x43
    GATE h40, CODE32, 0x8e, 0
  %else
    dq 0, 0
  %endif
%assign i i+1
%endrep
idt_end:
idtr: dw idt_end - idt - 1
    dd idt

align 8
tss:
    dd 0
    dq STACK                            ; RSP0
    dq 0, 0
    dq 0
    dq IST1 + 0x800                     ; IST1
    times 0x68 - ($ - tss) db 0

base: dq 0
resume: dq 0

%include "tail.inc"
