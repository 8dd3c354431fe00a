; Hardware task switches (32-bit flat protected mode, paging off): INT n through a task gate in
; the IDT (the new task has an LDT and its DS in it), #GP through a task gate (the error code on the
; new task's stack as a dword), #NP through a task gate to a 16-bit TSS (the error code as a word,
; a 16-bit stack), IRQ0 through a task gate out of HLT, IRET with NT back to the interrupted task
; (twice into the same task: it resumes after its IRET), CALL through a task gate in the GDT, JMP
; to a TSS and back (no nesting: busy bits move), and a TSS with its T bit set (#DB before the new
; task's first instruction; QEMU 7.2 ignores the bit).  Each task prints its registers as it
; starts: EFLAGS, ESP, segment selectors, LDTR, TR, CR0.TS, the back link in its TSS, and the type
; nibble of every TSS descriptor (9/1 available, B/3 busy).
%include "lib.inc"

CODE0 equ 0x08
DATA0 equ 0x10
T_MAIN equ 0x18
T_A equ 0x20
T_B equ 0x28
T_C equ 0x30
T_D equ 0x38
T_E equ 0x40
T_F equ 0x48
T_G equ 0x50
LDT_SEL equ 0x58
DATA16 equ 0x60
NOTPRESENT equ 0x68
GATE_E equ 0x70
LDATA equ 0x04              ; the LDT's data segment (TI=1, RPL 0)
NTSS equ 8                  ; TSS descriptors T_MAIN..T_G

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
%macro SREG 2                   ; " name=" and the selector in a 16-bit register/memory
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

; ENTRY: a task's first instructions: keep EFLAGS and ESP as loaded (before any push)
%macro ENTRY 0
    mov [sv_esp], esp
    pushfd
    pop dword [sv_efl]
    mov [sv_eax], eax
    mov [sv_edi], edi
%endmacro

; show: the running task's state (EBX = its TSS); ESP and EFLAGS from sv_esp / sv_efl
show:
    P32 " efl="
    HEX [sv_efl]
    P32 " esp="
    HEX [sv_esp]
    SREG " cs=", cs
    SREG " ss=", ss
    SREG " ds=", ds
    SREG " es=", es
    SREG " fs=", fs
    SREG " gs=", gs
    sldt ax
    SREG " ldtr=", ax
    str ax
    SREG " tr=", ax
    P32 " ts="
    mov eax, cr0
    shr eax, 3
    and al, 1
    add al, '0'
    out 0xe9, al
    SREG " link=", [ebx]
    P32 " types="
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
    NL
    ret

; the main task after a switch back: where it is, its flags, and what the switch saved
%macro BACK 1
    mov [sv_esp], esp
    pushfd
    pop dword [sv_efl]
    P32 %1
    mov ebx, tss_main
    call show
    clts
%endmacro

; --- the tasks ---
task_a:                         ; INT 50h; DS is the LDT's data segment
    ENTRY
    P32 "A eax="
    HEX [sv_eax]
    P32 " edi="
    HEX [sv_edi]
    mov ebx, tss_a
    call show
    mov eax, 0xA1A1A1A1
    iretd
    P32 "A again"
    mov ebx, tss_a
    call show
    iretd
    jmp task_a

task_b:                         ; #GP: the error code on this task's stack
    ENTRY
    pop eax
    P32 "B #GP ec="
    call hex32p
    mov ebx, tss_b
    call show
    mov eax, [resume]           ; the faulting instruction would fault again: go on after it
    mov [tss_main + 0x20], eax
    iretd
    jmp task_b

task_c:                         ; #NP through a 16-bit TSS: a word error code, a 16-bit stack
    mov [sv_esp], esp
    pushfd
    pop dword [sv_efl]
    pop ax
    P32 "C #NP ec="
    call hex16p
    P32 " sp="
    mov ax, sp
    call hex16p
    P32 " fl="
    mov ax, [sv_efl]
    call hex16p
    SREG " cs=", cs
    SREG " ss=", ss
    SREG " ds=", ds
    SREG " fs=", fs
    SREG " gs=", gs
    str ax
    SREG " tr=", ax
    SREG " link=", [tss_c]
    NL
    mov eax, [resume]
    mov [tss_main + 0x20], eax
    mov ax, 0xCAFE
    iretd
    jmp task_c

task_d:                         ; IRQ0
    ENTRY
    P32 "D IRQ0 main eip=hlt+"
    mov eax, [tss_main + 0x20]
    sub eax, [base]
    call hex16p
    mov ebx, tss_d
    call show
    mov al, 0x20
    out 0x20, al
    iretd
    jmp task_d

task_e:                         ; CALL through a task gate in the GDT
    ENTRY
    P32 "E"
    mov ebx, tss_e
    call show
    iretd
    jmp task_e

task_f:                         ; JMP to the TSS: no back link, no NT; JMP back
    ENTRY
    P32 "F"
    mov ebx, tss_f
    call show
    jmp T_MAIN:0
    jmp task_f

task_g:                         ; INT 53h into a TSS with T=1: #DB comes first
    ENTRY
    P32 "G"
    mov ebx, tss_g
    call show
    iretd
    jmp task_g

h_db:                           ; #DB (interrupt gate) inside task G
    push eax
    P32 "#DB eip=G+"
    mov eax, [esp + 4]
    sub eax, task_g
    call hex16p
    P32 " dr6.bt="
    mov eax, dr6
    shr eax, 15
    and al, 1
    add al, '0'
    out 0xe9, al
    NL
    pop eax
    iretd

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
    mov eax, 0x11111111
    mov edi, 0x22222222

    ; 1: INT 50h through a task gate, IRET back; then the same task again
    int 0x50
    mov [sv_eax], eax
    mov [sv_edi], edi
    BACK "back from A"
    P32 "A saved eip=A+"
    mov eax, [tss_a + 0x20]
    sub eax, task_a
    call hex16p
    P32 " efl="
    HEX [tss_a + 0x24]
    P32 " eax="
    HEX [tss_a + 0x28]
    P32 " link="
    HEX [tss_a]
    NL
    P32 "main regs eax="
    HEX [sv_eax]
    P32 " edi="
    HEX [sv_edi]
    NL
    int 0x50
    BACK "back from A again"

    ; 2: #GP(7FF8h) through a task gate: error code pushed on B's stack
    mov dword [resume], .r2
    mov ax, 0x7ff8
    mov ds, ax
.r2:
    BACK "back from B"
    P32 "main saved eip=r2+"
    mov eax, [tss_main + 0x20]
    sub eax, .r2
    call hex16p
    NL

    ; 3: #NP through a task gate to a 16-bit TSS
    mov dword [resume], .r3
    mov ax, NOTPRESENT
    mov ds, ax
.r3:
    BACK "back from C"
    P32 "C saved ip=C+"             ; what the IRET out of the 16-bit TSS stored in it
    mov ax, [tss_c + 0x0e]
    sub ax, task_c
    call hex16p
    P32 " fl="
    mov ax, [tss_c + 0x10]
    call hex16p
    P32 " ax="
    mov ax, [tss_c + 0x12]
    call hex16p
    P32 " sp="
    mov ax, [tss_c + 0x1a]
    call hex16p
    P32 " es cs ss ds="
    mov esi, tss_c + 0x22
    mov ecx, 4
.c3: mov al, ' '
    out 0xe9, al
    mov ax, [esi]
    call hex16p
    add esi, 2
    loop .c3
    NL

    ; 4: IRQ0 (PIC at 20h, only IRQ0 open) out of HLT through a task gate
    mov al, 0x11
    out 0x20, al
    out 0xa0, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x28
    out 0xa1, al
    mov al, 4
    out 0x21, al
    mov al, 2
    out 0xa1, al
    mov al, 1
    out 0x21, al
    out 0xa1, al
    mov al, 0xff
    out 0xa1, al
    mov al, 0xfe
    out 0x21, al
    mov al, 0x30                ; PIT channel 0, mode 0, count 200: one IRQ0 edge soon
    out 0x43, al
    mov al, 200
    out 0x40, al
    xor al, al
    out 0x40, al
    mov dword [base], .h4
    sti
    hlt
.h4:
    cli
    mov al, 0xff
    out 0x21, al
    BACK "back from D"

    ; 5: CALL through a task gate in the GDT, IRET back
    call GATE_E:0
    BACK "back from E"

    ; 6: JMP to a TSS; it jumps back to the main TSS
    jmp T_F:0
    BACK "back from F"
    P32 "F saved eip=F+"
    mov eax, [tss_f + 0x20]
    sub eax, task_f
    call hex16p
    NL

    ; 7: a TSS with T=1
    int 0x53
    BACK "back from G"

    FINISH32

; TSS32 label, eip, esp, ds, ldt, T
%macro TSS32 6
%1:
    dd 0                        ; 00 back link
    times 6 dd 0                ; 04 ESP0 SS0 ESP1 SS1 ESP2 SS2
    dd 0                        ; 1C CR3
    dd %2                       ; 20 EIP
    dd 0x00000002               ; 24 EFLAGS
    dd 0xA0A0A0A0, 0xC0C0C0C0, 0xD0D0D0D0, 0xB0B0B0B0
    dd %3                       ; 38 ESP
    dd 0xBBBBBBBB, 0x51515151, 0xD1D1D1D1
    dd DATA0, CODE0, DATA0, %4, DATA0, DATA0    ; 48 ES CS SS DS FS GS
    dd %5                       ; 60 LDT
    dw %6, 0x68                 ; 64 T, I/O map base
%endmacro

align 16
tss_main:
    times 0x68 db 0
TSS32 tss_a, task_a, 0x6000, LDATA, LDT_SEL, 0
TSS32 tss_b, task_b, 0x5800, DATA0, 0, 0
TSS32 tss_d, task_d, 0x4800, DATA0, 0, 0
TSS32 tss_e, task_e, 0x4000, DATA0, 0, 0
TSS32 tss_f, task_f, 0x3800, DATA0, 0, 0
TSS32 tss_g, task_g, 0x3000, DATA0, 0, 1
tss_c:                          ; 16-bit TSS
    dw 0                        ; 00 back link
    times 6 dw 0                ; 02 SP0 SS0 SP1 SS1 SP2 SS2
    dw task_c                   ; 0E IP
    dw 0x0002                   ; 10 FLAGS
    dw 0xA0A0, 0xC0C0, 0xD0D0, 0xB0B0
    dw 0x5000                   ; 1A SP
    dw 0xBBBB, 0x5151, 0xD1D1
    dw DATA0, CODE0, DATA16, DATA0  ; 22 ES CS SS DS
    dw 0                        ; 2A LDT
    times 0x68 - ($ - tss_c) db 0   ; (room for what Unicorn's IRET wrongly stores there)

%macro TSSDESC 3                ; base, limit, type
    dw %2, %1
    db 0, 0x80 | %3, 0, 0
%endmacro
align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff       ; 08 code0
    dq 0x00cf92000000ffff       ; 10 data0
    TSSDESC tss_main, 0x67, 9   ; 18
    TSSDESC tss_a, 0x67, 9      ; 20
    TSSDESC tss_b, 0x67, 9      ; 28
    TSSDESC tss_c, 0x2b, 1      ; 30 (16-bit)
    TSSDESC tss_d, 0x67, 9      ; 38
    TSSDESC tss_e, 0x67, 9      ; 40
    TSSDESC tss_f, 0x67, 9      ; 48
    TSSDESC tss_g, 0x67, 9      ; 50
    dw ldt_end - ldt - 1, ldt   ; 58 LDT
    db 0, 0x82, 0, 0
    dq 0x000092000000ffff       ; 60 data, 16-bit (B=0), 64 KiB
    dq 0x00cf12000000ffff       ; 68 data, not present
    dw 0, T_E                   ; 70 task gate -> E
    db 0, 0x85, 0, 0
gdt_end:
gdtr: dw gdt_end - gdt - 1
    dd gdt

ldt:
    dq 0x00cf92000000ffff       ; 04 data, flat
ldt_end:

%macro GATE 3        ; handler, selector, type/attr byte
    dw %1, %2
    db 0, %3
    dw 0
%endmacro
%macro TASKGATE 1
    dw 0, %1
    db 0, 0x85
    dw 0
%endmacro
idt:
%assign i 0
%rep 0x54
  %if i == 1
    GATE h_db, CODE0, 0x8e
  %elif i == 11
    TASKGATE T_C
  %elif i == 13
    TASKGATE T_B
  %elif i == 0x20
    TASKGATE T_D
  %elif i == 0x50
    TASKGATE T_A
  %elif i == 0x53
    TASKGATE T_G
  %else
    dq 0
  %endif
%assign i i+1
%endrep
idt_end:
idtr: dw idt_end - idt - 1
    dd idt

base: dd 0
resume: dd 0
sv_esp: dd 0
sv_efl: dd 0
sv_eax: dd 0
sv_edi: dd 0

%include "tail.inc"
