; Protected mode (32-bit, flat): faults while delivering INT n / INT3 through the IDT (not-present
; gate, target CS not code, IDT limit, gate DPL below CPL from ring 3), INT 6, #UD encodings, the
; TSS stack switch, PUSHFD images after IRETD with RF set, and virtual-8086 mode: entry by IRETD,
; PUSHFD there, and INT n back to ring 0 (the vm86 frame); from vm86 at IOPL 3, INT n through a
; gate of DPL 0 (#GP at the INT).
%include "lib.inc"

CODE0 equ 0x08
DATA0 equ 0x10
CODE3 equ 0x1b
DATA3 equ 0x23
TSSSEL equ 0x28

main:
    lgdt [gdtr]
    lidt [idtr]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp CODE0:pm

bits 32
; --- 32-bit output helpers ---
%include "out32.inc"
nl32:
    push eax
    mov al, 10
    out 0xe9, al
    pop eax
    ret

; handlers: print name, error code (if any), EIP relative to [base], CS; then resume at
; [resume] in ring 0 with the stack at [stack0]
%macro HNOEC 2
%1:
    mov ax, DATA0            ; (DS is null after an exit from vm86)
    mov ds, ax
    mov es, ax
    mov ebp, esp
    P32 %2, " eip=base+"
    mov eax, [ebp]
    sub eax, [base]
    call hex32p
    P32 " cs="
    HEX [ebp+4]
    P32 " efl="
    HEX [ebp+8]
    call nl32
    mov esp, [stack0]
    jmp [resume]
%endmacro
%macro HEC 2
%1:
    mov ax, DATA0            ; (DS is null after an exit from vm86)
    mov ds, ax
    mov es, ax
    mov ebp, esp
    P32 %2, " ec="
    HEX [ebp]
    P32 " eip=base+"
    mov eax, [ebp+4]
    sub eax, [base]
    call hex32p
    P32 " cs="
    HEX [ebp+8]
    P32 " efl="
    HEX [ebp+12]
    call nl32
    mov esp, [stack0]
    jmp [resume]
%endmacro

HNOEC h_int40, "INT 40h"

; INT 46h through a 16-bit interrupt gate: IP, CS, FLAGS pushed as words
h_int46:
    mov ebp, esp
    P32 "INT 46h (16-bit gate) ip=base+"
    movzx eax, word [ebp]
    sub eax, [base]
    call hex32p
    P32 " cs="
    movzx eax, word [ebp+2]
    call hex32p
    P32 " fl="
    movzx eax, word [ebp+4]
    call hex32p
    P32 " esp delta="
    mov eax, [stack0]
    sub eax, esp
    call hex32p
    call nl32
    mov esp, [stack0]
    jmp [resume]
HNOEC h_bp, "#BP"
HNOEC h_ud, "vector 6"
HEC h_np, "#NP"
HEC h_gp, "#GP"
HEC h_ts, "#TS"
HEC h_ss, "#SS"

; INT 44h from vm86: print the whole frame (EIP CS EFLAGS ESP SS ES DS FS GS)
h_vm86:
    mov bp, ds               ; (nulled by the exit from vm86: reload before using memory)
    mov ax, DATA0
    mov ds, ax
    mov es, ax
    P32 "vm86 PUSHFD="
    HEX [vmflags]
    call nl32
    P32 "vm86 INT 44h frame:"
    mov ecx, 9
    mov ebx, esp
.f: mov al, ' '
    out 0xe9, al
    mov eax, [ebx]
    call hex32p
    add ebx, 4
    loop .f
    call nl32
    P32 "ring0 after vm86 ds="
    movzx eax, bp
    call hex32p
    call nl32
    mov esp, [stack0]
    jmp [resume]

; CASE label: set base (address of the instruction) and resume
%macro CASE 2
    mov dword [base], %1
    mov dword [resume], %2
%endmacro

pm:
    mov ax, DATA0
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov [stack0], esp
    mov ax, TSSSEL
    ltr ax
    ; INT 40h: a trap gate, the address after it
    CASE .a1, .r1
.a1: int 0x40
.r1:
    ; INT 46h: a 16-bit interrupt gate pushes a 6-byte frame
    CASE .a0, .r0
.a0: int 0x46
.r0:
    ; INT 41h: gate not present -> #NP(41h*8+2) at the INT
    CASE .a2, .r2
.a2: int 0x41
.r2:
    ; INT 42h: the gate's selector is a data segment -> #GP(10h) at the INT
    CASE .a3, .r3
.a3: int 0x42
.r3:
    ; INT 70h: beyond the IDT limit -> #GP(70h*8+2) at the INT
    CASE .a4, .r4
.a4: int 0x70
.r4:
    ; INT3 and INT 3 through a present gate: after; INT 45h (not present) as INT3-alike
    CASE .a5, .r5
.a5: int3
.r5:
    ; INT 6 (CD 06): software, after it; UD2 and 0F 07 (SYSRET, EFER.SCE=0): #UD at it
    CASE .a6, .r6
.a6: int 6
.r6:
    CASE .a7, .r7
.a7: ud2
.r7:
    CASE .a8, .r8
.a8: db 0x0f, 0x07
.r8:
    ; PUSHFD after an IRETD that set RF: the image has RF (and VM) clear
    push dword 0x10002
    push dword CODE0
    push dword .rf
    iretd
.rf: pushfd
    pop eax
    P32 "PUSHFD after IRETD RF=1: "
    call hex32p
    call nl32
    ; ring 3: INT 40h (gate DPL 0) -> #GP(40h*8+2) at the INT, taken on the TSS stack
    CASE .a9, .r9
    mov ax, DATA3
    mov ds, ax
    mov es, ax
    push dword DATA3
    push dword 0x6000
    push dword 0x0002
    push dword CODE3
    push dword .ring3
    iretd
.ring3:
.a9: int 0x40
.r9:
    mov ax, DATA0
    mov ds, ax
    mov es, ax
    mov ax, ss
    P32 "ring0 again ss="
    movzx eax, ax
    call hex32p
    call nl32
    ; virtual-8086 mode (IOPL 3): PUSHFD, then INT 44h back to ring 0
    mov dword [resume], .r10
    push dword 0x5000        ; GS
    push dword 0x4000        ; FS
    push dword 0             ; DS
    push dword 0x2000        ; ES
    push dword 0             ; SS
    push dword 0x6800        ; ESP
    push dword 0x23002       ; EFLAGS: VM, IOPL 3
    push dword 0             ; CS
    push dword vm86code      ; EIP
    iretd
.r10:
    ; vm86 with IOPL 3: INT 40h through a gate of DPL 0 -> #GP(40h*8+2) at the INT, to ring 0
    mov dword [base], vm86int40
    mov dword [resume], .r11
    push dword 0             ; GS
    push dword 0             ; FS
    push dword 0             ; DS
    push dword 0             ; ES
    push dword 0             ; SS
    push dword 0x6800        ; ESP
    push dword 0x23002       ; EFLAGS: VM, IOPL 3
    push dword 0             ; CS
    push dword vm86int40     ; EIP
    iretd
.r11:
    FINISH32

bits 16
vm86int40:
    int 0x40
    jmp $
vm86code:
    pushfd
    pop dword [vmflags]      ; (DS=0 in vm86)
    int 0x44
    jmp $

bits 32
gdt:
    dq 0
    dq 0x00cf9a000000ffff    ; 08 code0
    dq 0x00cf92000000ffff    ; 10 data0
    dq 0x00cffa000000ffff    ; 18 code3
    dq 0x00cff2000000ffff    ; 20 data3
    dw 0x67, tss, 0x8900, 0  ; 28 TSS (base < 64K)
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
%rep 0x70
  %if i == 3
    GATE h_bp, CODE0, 0x8e
  %elif i == 6
    GATE h_ud, CODE0, 0x8e
  %elif i == 10
    GATE h_ts, CODE0, 0x8e
  %elif i == 11
    GATE h_np, CODE0, 0x8e
  %elif i == 12
    GATE h_ss, CODE0, 0x8e
  %elif i == 13
    GATE h_gp, CODE0, 0x8e
  %elif i == 0x40
    GATE h_int40, CODE0, 0x8f
  %elif i == 0x41
    GATE h_int40, CODE0, 0x0e
  %elif i == 0x42
    GATE h_int40, DATA0, 0x8e
  %elif i == 0x44
    GATE h_vm86, CODE0, 0xee
  %elif i == 0x46
    GATE h_int46, CODE0, 0x86
  %else
    dq 0
  %endif
%assign i i+1
%endrep
idt_end:
idtr: dw idt_end - idt - 1
    dd idt

tss:
    dd 0
    dd 0x7000, DATA0         ; ESP0, SS0
    times 0x68 - ($ - tss) db 0

base: dd 0
resume: dd 0
stack0: dd 0
vmflags: dd 0

%include "tail.inc"
