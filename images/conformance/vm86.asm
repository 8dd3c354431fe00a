; Virtual-8086 mode with IOPL 0: the IOPL-sensitive instructions (CLI, STI, PUSHF, POPF, INT n,
; IRET) raise #GP(0) at the instruction; IN/OUT are checked against the TSS I/O bitmap (port 60h
; denied, port 61h allowed); INT3 (CC) is not IOPL-sensitive, INT 3 (CD 03) is; the ring-0 frame
; of each fault.
%include "lib.inc"

CODE equ 0x08
DATA equ 0x10
TSSSEL equ 0x18

main:
    lgdt [gdtr]
    lidt [idtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp CODE:pm

bits 32
%include "out32.inc"

; a fault from vm86: print vector name, error code, EIP (relative to the case), EFLAGS, then
; go to the next case
%macro FROMV86 3           ; label, name, has error code
%1:
    mov ax, DATA
    mov ds, ax
    mov es, ax
    mov ebp, esp
  %if %3
    P32 %2, " ec="
    HEX [ebp]
    add ebp, 4
  %else
    P32 %2
  %endif
    P32 " eip=base+"
    mov eax, [ebp]
    sub eax, [base]
    call hex32p
    P32 " cs="
    HEX [ebp+4]
    P32 " efl="
    HEX [ebp+8]
    P32 " esp="
    HEX [ebp+12]
    mov al, 10
    out 0xe9, al
    mov esp, 0x7000
    jmp next_case
%endmacro
FROMV86 h_gp, "#GP", 1
FROMV86 h_bp, "#BP", 0
FROMV86 h_40, "INT 40h", 0
FROMV86 h_ud, "#UD", 0

pm:
    mov ax, DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov ax, TSSSEL
    ltr ax
next_case:
    mov esi, [case_ptr]
    lodsd
    test eax, eax
    jz done
    mov [case_ptr], esi
    mov [base], eax
    push dword 0            ; GS
    push dword 0            ; FS
    push dword 0            ; DS
    push dword 0            ; ES
    push dword 0            ; SS
    push dword 0x6800       ; ESP
    push dword 0x20002      ; EFLAGS: VM, IOPL 0 (IF=0: no BIOS timer IRQ in between)
    push dword 0            ; CS
    push eax                ; EIP
    iretd
done:
    FINISH32

bits 16
c_cli: cli
c_sti: sti
c_pushf: pushf
c_popf: popf
c_int: int 0x40
c_int3: int3
c_intn3: int 3
c_iret: iret
c_in60: in al, 0x60
c_in61: in al, 0x61
    int3                    ; (back to ring 0 through #BP: INT3 with IOPL 0 is not #GP)
c_out80: out 0x80, al
c_ud: ud2

bits 32
case_ptr: dd cases
cases: dd c_cli, c_sti, c_pushf, c_popf, c_int, c_int3, c_intn3, c_iret, c_in60, c_in61
    dd c_out80, c_ud, 0

gdt:
    dq 0
    dq 0x00cf9a000000ffff    ; 08 code32
    dq 0x00cf92000000ffff    ; 10 data32
    dw tss_end - tss - 1, tss, 0x8900, 0   ; 18 TSS32 with an I/O bitmap
gdt_end:
gdtr: dw gdt_end - gdt - 1
    dd gdt

%macro GATE 2
    dw %1, CODE
    db 0, %2
    dw 0
%endmacro
idt:
    dq 0, 0, 0
    GATE h_bp, 0xee          ; 3 (DPL 3: INT3 from vm86)
    dq 0, 0
    GATE h_ud, 0x8e          ; 6
    times 6 dq 0
    GATE h_gp, 0x8e          ; 13
    times 0x40 - 14 dq 0
    GATE h_40, 0xee          ; 40h
idt_end:
idtr: dw idt_end - idt - 1
    dd idt

tss:
    dd 0
    dd 0x7000, DATA          ; ESP0, SS0
    times 0x66 - ($ - tss) db 0
    dw iomap - tss
iomap:
    times 12 db 0xff         ; ports 00h-5Fh denied
    db 0xfd                  ; 60h denied, 61h allowed, 62h-67h denied
    times 3 db 0xff          ; 68h-7Fh
    db 0xfe                  ; 80h allowed
    db 0xff                  ; 88h-8Fh, then the bitmap ends (the CPU reads two bytes)
    db 0xff
tss_end:

base: dd 0

%include "tail.inc"
