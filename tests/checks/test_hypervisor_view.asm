start:  cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        lgdt [gdtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:pm32
bits 32
pm32:   mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        ; memtest86+ style: PAE and CR3 first, then EFER.LME with paging off, then paging
        ; identity map 0..2 MiB: PML4 at 0x1000, PDPT 0x2000, PD 0x3000 (2 MiB page)
        mov edi, 0x1000
        xor eax, eax
        mov ecx, 0xc00
        rep stosd
        mov dword [0x1000], 0x2003
        mov dword [0x2000], 0x3003
        mov dword [0x3000], 0x83
        mov eax, cr4
        or eax, 0x20
        mov cr4, eax
        mov eax, 0x1000
        mov cr3, eax
        mov ecx, 0xc0000080
        rdmsr
        or eax, 0x100
        wrmsr                   ; LME=1, paging still off
        nop
        nop
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax            ; LMA=1: compatibility mode
        jmp 0x18:lm64
bits 64
lm64:   mov al, 'K'
        out 0xe9, al
        hlt
align 8
gdt:    dq 0
        dq 0x00cf9a000000ffff
        dq 0x00cf92000000ffff
        dq 0x00af9a000000ffff
gdtr:   dw gdtr - gdt - 1
        dd gdt
