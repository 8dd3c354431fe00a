bits 16
org 0x7c00
start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    mov bx, 0x08
    mov ds, bx
    mov es, bx
    and al, 0xFE
    mov cr0, eax
    xor ax, ax
    mov ds, ax
    mov es, ax
    hlt
    jmp $
gdt:  dq 0
      dq 0x00CF92000000FFFF
gdtr: dw gdtr - gdt - 1
      dd gdt
times 510-($-$$) db 0
dw 0xaa55
