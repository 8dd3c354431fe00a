; Physical memory without RAM (128 MiB machine, QEMU's default): the top 128 KiB below 4 GiB
; mirror the BIOS ROM, other holes read as all ones and writes there are dropped.
%include "lib.inc"

main:
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm
bits 32
pm:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    ; the model byte's ROM copy (FFFFFFFEh) equals F000:FFFE
    mov al, [0xfffffffe]
    cmp al, [0xffffe]
    setz bl
    ; a hole far above RAM (C0000000h): reads all ones, a write does not stick
    mov eax, [0xc0000000]
    mov dword [0xc0000000], 0x12345678
    mov edx, [0xc0000000]
    mov ebp, eax
    ; back to real mode to print
    jmp 0x18:rm16
bits 16
rm16:
    mov ax, 0x20
    mov ds, ax
    mov es, ax
    mov ecx, cr0
    and cx, 0xfffe
    mov cr0, ecx
    jmp 0:rm
rm:
    xor cx, cx
    mov ds, cx
    mov es, cx
    push edx
    PRINT "ROM mirror equal="
    push ax
    mov al, bl
    call hex8
    pop ax
    call newline
    PRINT "hole read="
    mov eax, ebp
    call hex32
    call newline
    PRINT "hole after write="
    pop eax
    call hex32
    call newline
    jmp finish

gdt:
    dq 0
    dq 0x00cf9a000000ffff    ; 08 code32
    dq 0x00cf92000000ffff    ; 10 data32
    dq 0x00009a000000ffff    ; 18 code16
    dq 0x000092000000ffff    ; 20 data16
gdt_end:
gdtr: dw gdt_end - gdt - 1
    dd gdt

%include "tail.inc"
