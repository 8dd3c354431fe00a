bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    mov di, 0x1000
    mov cx, 0x1800
    xor ax, ax
    rep stosw                       ; clear 0x1000-0x3fff
    mov dword [0x1000], 0x2003      ; PML4[0] -> PDPT
    mov dword [0x2000], 0x3003      ; PDPT[0] -> PD
    mov dword [0x3000], 0x0083      ; PD[0] = 2 MiB page at 0
    mov eax, 0x20                   ; CR4.PAE
    mov cr4, eax
    mov eax, 0x1000
    mov cr3, eax
    mov ecx, 0xC0000080
    rdmsr
    or eax, 0x100                   ; EFER.LME
    wrmsr
    lgdt [gdtr]
    mov eax, cr0
    or eax, 0x80000001
    mov cr0, eax
    jmp 0x08:long64
bits 64
long64:
    mov ax, 0x10
    mov ds, ax
    mov ss, ax
    mov rax, 0x1122334455667788
    hlt
    jmp $
gdt:  dq 0
      dq 0x00AF9A000000FFFF         ; 64-bit code
      dq 0x00CF92000000FFFF         ; data
gdtr: dw gdtr - gdt - 1
      dd gdt
times 510-($-$$) db 0
dw 0xaa55
