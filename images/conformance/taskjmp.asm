; Task switches by far CALL, far JMP and IRET (NT=1) between 32-bit and 16-bit TSSs, in both
; directions (32-bit flat protected mode, paging off): CALL to a 16-bit TSS and IRET back, a
; 16-bit task CALLing a 32-bit one (nesting two deep) and the IRETs back, JMP to a 16-bit TSS
; and JMP back, CALL and JMP through task gates in the GDT, CALL FAR [mem] and JMP FAR [mem] to
; TSSs, and the faults: JMP to a busy TSS, CALL with RPL above the TSS's DPL, a TSS that is not
; present, a task gate to a busy TSS, IRET with NT=1 whose back link names an available TSS;
; and TF set as a CALL switches tasks (where the single-step trap comes).
; Each task prints, as it starts, its general registers (a 16-bit TSS loads only their low
; halves), EFLAGS, segment selectors, TR, CR0.TS, its back link and the type nibble of every TSS
; descriptor (9/1 available, B/3 busy); after each switch back, what the switch saved.
%include "lib.inc"

CODE0 equ 0x08
DATA0 equ 0x10
T_MAIN equ 0x18
T_P equ 0x20                ; 32-bit
T_Q equ 0x28                ; 16-bit
T_R equ 0x30                ; 16-bit
T_S equ 0x38                ; 32-bit
T_NP equ 0x40               ; 32-bit, not present
GATE_Q equ 0x48             ; task gate -> T_Q
GATE_S equ 0x50             ; task gate -> T_S
GATE_MAIN equ 0x58          ; task gate -> T_MAIN (busy while main runs)
DATA16 equ 0x60             ; data, 16-bit (B=0)
NTSS equ 5                  ; TSS descriptors T_MAIN..T_S

main:
    lgdt [gdtr]
    lidt [idtr]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp CODE0:pm

bits 32
%include "out32.inc"
%macro NL 0
    push eax
    mov al, 10
    out 0xe9, al
    pop eax
%endmacro
%macro H16 2                    ; " name=" and a 16-bit register/memory as 4 hex digits
    P32 %1
    mov ax, %2
    call hex16p
%endmacro

hex16p:                         ; AX as 4 hex digits
    push eax
    push ecx
    shl eax, 16
    mov ecx, 4
.n: rol eax, 4
    push eax
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe .o
    add al, 7
.o: out 0xe9, al
    pop eax
    loop .n
    pop ecx
    pop eax
    ret

; ENTRY: a task's first instructions: its registers and EFLAGS as the switch loaded them
%macro ENTRY 0
    mov [sv_esp], esp
    pushfd
    pop dword [sv_efl]
    mov [sv_eax], eax
    mov [sv_ecx], ecx
    mov [sv_edx], edx
    mov [sv_ebx], ebx
    mov [sv_ebp], ebp
    mov [sv_esi], esi
    mov [sv_edi], edi
%endmacro

; REGS32 / REGS16: the registers ENTRY saved, whole or their low halves (a 16-bit TSS loads only
; those: the SDM leaves the upper halves "modified"; Bochs sets them to FFFFh, QEMU keeps them)
%macro REGS32 0
    P32 " eax="
    HEX [sv_eax]
    P32 " ecx="
    HEX [sv_ecx]
    P32 " edx="
    HEX [sv_edx]
    P32 " ebx="
    HEX [sv_ebx]
    P32 " esp="
    HEX [sv_esp]
    P32 " ebp="
    HEX [sv_ebp]
    P32 " esi="
    HEX [sv_esi]
    P32 " edi="
    HEX [sv_edi]
%endmacro
%macro REGS16 0
    H16 " ax=", [sv_eax]
    H16 " cx=", [sv_ecx]
    H16 " dx=", [sv_edx]
    H16 " bx=", [sv_ebx]
    H16 " sp=", [sv_esp]
    H16 " bp=", [sv_ebp]
    H16 " si=", [sv_esi]
    H16 " di=", [sv_edi]
%endmacro

; show: the running task's state (EBX = its TSS)
show:
    P32 " efl="
    HEX [sv_efl]
    H16 " cs=", cs
    H16 " ss=", ss
    H16 " ds=", ds
    H16 " es=", es
    H16 " fs=", fs
    H16 " gs=", gs
    str ax
    H16 " tr=", ax
    P32 " ts="
    mov eax, cr0
    shr eax, 3
    and al, 1
    add al, '0'
    out 0xe9, al
    H16 " link=", [ebx]
    call types
    NL
    ret

types:                          ; " types=" and the type nibble of each TSS descriptor
    P32 " types="
    push eax
    push ecx
    push esi
    mov esi, gdt + T_MAIN + 5
    mov ecx, NTSS
.t: mov al, [esi]
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe .o
    add al, 7
.o: out 0xe9, al
    add esi, 8
    loop .t
    pop esi
    pop ecx
    pop eax
    ret

; SETREGS: known values in every general register but ESP before a switch (a 16-bit TSS saves
; and loads only the low halves)
%macro SETREGS 0
    mov eax, 0x11112222
    mov ecx, 0x33334444
    mov edx, 0x55556666
    mov ebx, 0x77778888
    mov ebp, 0x9999aaaa
    mov esi, 0xbbbbcccc
    mov edi, 0xddddeeee
%endmacro

; BACK "text": the main task after a switch back
%macro BACK 1
    ENTRY
    P32 %1
    REGS32
    mov ebx, tss_main
    call show
    clts
%endmacro

; SAVED16 tss: what a switch stored in a 16-bit TSS
%macro SAVED16 1
    P32 "  saved ip="
    mov ax, [%1 + 0x0e]
    call hex16p
    H16 " fl=", [%1 + 0x10]
    P32 " ax cx dx bx sp bp si di="
    mov esi, %1 + 0x12
    mov ecx, 8
%%r: mov al, ' '
    out 0xe9, al
    mov ax, [esi]
    call hex16p
    add esi, 2
    loop %%r
    P32 " es cs ss ds="
    mov ecx, 4
%%s: mov al, ' '
    out 0xe9, al
    mov ax, [esi]
    call hex16p
    add esi, 2
    loop %%s
    H16 " ldt=", [%1 + 0x2a]
    H16 " after=", [%1 + 0x2c]
    NL
%endmacro

; SAVED32 tss: what a switch stored in a 32-bit TSS
%macro SAVED32 1
    P32 "  saved eip="
    HEX [%1 + 0x20]
    P32 " efl="
    HEX [%1 + 0x24]
    P32 " regs="
    mov esi, %1 + 0x28
    mov ecx, 8
%%r: mov al, ' '
    out 0xe9, al
    mov eax, [esi]
    call hex32p
    add esi, 4
    loop %%r
    P32 " segs="
    mov ecx, 6
%%s: mov al, ' '
    out 0xe9, al
    mov eax, [esi]
    call hex32p
    add esi, 4
    loop %%s
    NL
%endmacro

; --- the tasks ---
task_q:                         ; 16-bit TSS; entered by CALL, JMP and a task gate
    ENTRY
    P32 "Q"
    REGS16
    mov ebx, tss_q
    call show
    H16 "Q hi=", [sv_eax + 2]       ; (EAX's upper half: see REGS16)
    NL
    cmp byte [q_mode], 1
    je .call_p
    cmp byte [q_mode], 2
    je .jmp_back
    SETREGS
    iretd                       ; (NT=1: back to the caller's task)
    jmp task_q
.call_p:                        ; a 16-bit task calls a 32-bit one
    mov byte [q_mode], 0
    mov eax, 0x12345678
    mov esi, 0x9abcdef0
    SETREGS
    call T_P:0
    ENTRY
    P32 "Q after P"
    REGS16
    mov ebx, tss_q
    call show
    SAVED32 tss_p
    SETREGS
    iretd
    jmp task_q
.jmp_back:
    mov byte [q_mode], 0
    mov eax, 0x0badf00d
    SETREGS
    jmp T_MAIN:0
    jmp task_q

task_p:                         ; 32-bit TSS
    ENTRY
    P32 "P"
    REGS32
    mov ebx, tss_p
    call show
    mov eax, 0xfeedface
    mov ebp, 0x76543210
    SETREGS
    iretd
    jmp task_p

task_r:                         ; 16-bit TSS, CALLed through CALL FAR [mem]
    ENTRY
    P32 "R"
    REGS16
    mov ebx, tss_r
    call show
    mov eax, 0x55aa55aa
    SETREGS
    iretd
    jmp task_r

task_s:                         ; 32-bit TSS, through a task gate and JMP FAR [mem]
    ENTRY
    P32 "S"
    REGS32
    mov ebx, tss_s
    call show
    cmp byte [s_jmp], 0
    jne .j
    SETREGS
    iretd
    jmp task_s
.j: mov byte [s_jmp], 0
    SETREGS
    jmp T_MAIN:0
    jmp task_s

; a fault in the main task: vector, error code, where; resume at [resume]
%macro FAULT 2
%2:
    push eax
    P32 %1
    mov eax, [esp + 4]
    call hex16p
    P32 " eip=+"
    mov eax, [esp + 8]
    sub eax, [base]
    call hex16p
    call types
    NL
    mov eax, [resume]
    mov [esp + 8], eax
    pop eax
    add esp, 4
    iretd
%endmacro
h_db:                           ; #DB: where, in which task; quiet (TF off) in the main task
    push eax
    str ax
    cmp ax, T_MAIN
    je .quiet
    P32 "#DB tr="
    call hex16p
    P32 " eip=P+"
    mov eax, [esp + 4]
    sub eax, task_p
    call hex16p
    P32 " dr6.bs="
    mov eax, dr6
    shr eax, 14
    and al, 1
    add al, '0'
    out 0xe9, al
    NL
.quiet:
    and dword [esp + 12], ~0x100
    pop eax
    iretd

FAULT "#TS ec=", h_ts
FAULT "#NP ec=", h_np
FAULT "#GP ec=", h_gp

%macro FAULTING 1+               ; an instruction that faults: resume after it
    mov dword [base], %%at
    mov dword [resume], %%after
%%at:
    %1
%%after:
%endmacro

pm:
    mov ax, DATA0
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, 0x7000
    mov ax, T_MAIN
    ltr ax
    mov eax, 0x11112222
    mov ecx, 0x33334444
    mov edx, 0x55556666
    mov ebx, 0x77778888
    mov ebp, 0x9999aaaa
    mov esi, 0xbbbbcccc
    mov edi, 0xddddeeee

    ; 1: CALL to a 16-bit TSS, IRET back (32 -> 16 -> 32)
    SETREGS
    call T_Q:0
    BACK "back from Q"
    SAVED16 tss_q

    ; 2: CALL the 16-bit task, which CALLs a 32-bit one; IRETs back (32 -> 16 -> 32 -> 16 -> 32)
    mov byte [q_mode], 1
    mov ebx, 0x01020304
    SETREGS
    call T_Q:0
    BACK "back from Q (nested)"
    SAVED16 tss_q

    ; 3: JMP to the 16-bit TSS; it JMPs back (busy bits move, no back link, no NT)
    mov byte [q_mode], 2
    mov dword [tss_main + 0x24], 0      ; (to see what the JMP saves)
    SETREGS
    jmp T_Q:0
    BACK "back from Q (jmp)"
    SAVED16 tss_q
    SAVED32 tss_main

    ; 4: CALL through a task gate to the 16-bit TSS; CALL through a task gate to a 32-bit one
    SETREGS
    call GATE_Q:0
    BACK "back from Q (gate)"
    SETREGS
    call GATE_S:0
    BACK "back from S (gate)"
    SAVED32 tss_s

    ; 5: CALL FAR [mem] to a 16-bit TSS, JMP FAR [mem] to a 32-bit one (which JMPs back)
    SETREGS
    call far [ptr_r]
    BACK "back from R"
    SAVED16 tss_r
    mov byte [s_jmp], 1
    SETREGS
    jmp far [ptr_s]
    BACK "back from S (jmp)"

    ; 6: TF set as a CALL switches tasks: the single-step trap comes in the new task
    SETREGS
    pushfd
    or dword [esp], 0x100
    popfd
    call T_P:0
    BACK "back from P (TF)"

    ; 7: faults
    FAULTING jmp T_MAIN:0               ; busy: #GP(18h)
    FAULTING call (T_P | 3):0           ; RPL 3 > DPL 0: #GP(20h)
    FAULTING jmp T_NP:0                 ; not present: #NP(40h)
    FAULTING call GATE_MAIN:0           ; a gate to a busy TSS: #GP(18h)
    mov word [tss_main], T_P            ; IRET with NT=1 to an available TSS: #TS(20h)
    pushfd
    or dword [esp], 0x4000
    popfd
    FAULTING iretd
    pushfd
    and dword [esp], ~0x4000
    popfd
    P32 "faults done"
    call types
    NL

    FINISH32

; TSS32 label, eip, esp
%macro TSS32 3
%1:
    dd 0                        ; 00 back link
    times 6 dd 0                ; 04 ESP0 SS0 ESP1 SS1 ESP2 SS2
    dd 0                        ; 1C CR3
    dd %2                       ; 20 EIP
    dd 0x00000002               ; 24 EFLAGS
    dd 0xA0A0A0A0, 0xC0C0C0C0, 0xD0D0D0D0, 0xB0B0B0B0
    dd %3                       ; 38 ESP
    dd 0xBBBBBBBB, 0x51515151, 0xD1D1D1D1
    dd DATA0, CODE0, DATA0, DATA0, DATA0, DATA0     ; 48 ES CS SS DS FS GS
    dd 0                        ; 60 LDT
    dw 0, 0x68                  ; 64 T, I/O map base
%endmacro
; TSS16 label, ip, sp
%macro TSS16 3
%1:
    dw 0                        ; 00 back link
    times 6 dw 0                ; 02 SP0 SS0 SP1 SS1 SP2 SS2
    dw %2                       ; 0E IP
    dw 0x0002                   ; 10 FLAGS
    dw 0xA1A1, 0xC1C1, 0xD1D1, 0xB1B1
    dw %3                       ; 1A SP
    dw 0xBBB1, 0x5151, 0xD1D1
    dw DATA0, CODE0, DATA16, DATA0  ; 22 ES CS SS DS (a 16-bit stack: see REGS16)
    dw 0                        ; 2A LDT
    dw 0x7777                   ; 2C (after the TSS: nothing may be stored here)
    times 0x68 - ($ - %1) db 0x77
%endmacro

align 16
tss_main:
    times 0x68 db 0
TSS32 tss_p, task_p, 0x6000
TSS32 tss_s, task_s, 0x5000
TSS16 tss_q, task_q, 0x5800
TSS16 tss_r, task_r, 0x4800

%macro TSSDESC 4                ; base, limit, type, present
    dw %2, %1
    db 0, (%4 << 7) | %3, 0, 0
%endmacro
align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff       ; 08 code0
    dq 0x00cf92000000ffff       ; 10 data0
    TSSDESC tss_main, 0x67, 9, 1    ; 18
    TSSDESC tss_p, 0x67, 9, 1       ; 20
    TSSDESC tss_q, 0x2b, 1, 1       ; 28 (16-bit)
    TSSDESC tss_r, 0x2b, 1, 1       ; 30 (16-bit)
    TSSDESC tss_s, 0x67, 9, 1       ; 38
    TSSDESC tss_p, 0x67, 9, 0       ; 40 not present
    dw 0, T_Q                   ; 48 task gate -> Q
    db 0, 0x85, 0, 0
    dw 0, T_S                   ; 50 task gate -> S
    db 0, 0x85, 0, 0
    dw 0, T_MAIN                ; 58 task gate -> main
    db 0, 0x85, 0, 0
    dq 0x000092000000ffff       ; 60 data, 16-bit (B=0), 64 KiB
gdt_end:
gdtr: dw gdt_end - gdt - 1
    dd gdt

%macro GATE 2                   ; index, handler
    times (%1 * 8) - ($ - idt) db 0
    dw %2, CODE0
    db 0, 0x8e
    dw 0
%endmacro
idt:
    GATE 1, h_db
    GATE 10, h_ts
    GATE 11, h_np
    GATE 13, h_gp
idt_end:
idtr: dw idt_end - idt - 1
    dd idt

ptr_r: dd 0x1234
    dw T_R
ptr_s: dd 0x5678
    dw T_S
q_mode: db 0
s_jmp: db 0
base: dd 0
resume: dd 0
sv_esp: dd 0
sv_efl: dd 0
sv_eax: dd 0
sv_ecx: dd 0
sv_edx: dd 0
sv_ebx: dd 0
sv_ebp: dd 0
sv_esi: dd 0
sv_edi: dd 0

%include "tail.inc"
