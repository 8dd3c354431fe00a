"""Small guests that turn paging on with varied mappings, print DONE on COM1 and halt: one per
paging scheme (32-bit with 4 MiB pages, PAE, 4-level with 1 GiB / 2 MiB / 4 KiB pages and the
high half).  Used to compare `info tlb` / `info mem` / `page` with QEMU's monitor."""
from __future__ import annotations

from tests.conftest import GDT_PM, GDT_TAIL

DONE = """
done:
    mov dx, 0x3f8
    mov al, 'D'
    out dx, al
    mov al, 'O'
    out dx, al
    mov al, 'N'
    out dx, al
    mov al, 'E'
    out dx, al
    mov al, 10
    out dx, al
.h: cli
    hlt
    jmp .h
"""

# 32-bit paging with CR4.PSE: directory 0x10000, table 0x11000.  Table 0 maps 0-4 MiB
# identically (user, writable) except: 0x20 read-only, 0x21 supervisor, 0x22 absent,
# 0x23 -> physical 0x123000, 0x24 global+PCD+PWT.  PDE 1: a 4 MiB user page at 4 MiB;
# PDE 0x3ff: a 4 MiB supervisor read-only page at the top -> physical 8 MiB.
PSE32 = GDT_PM + """
    mov edi, 0x10000
    xor eax, eax
    mov ecx, 2 * 1024
    rep stosd
    mov dword [0x10000], 0x11007
    mov dword [0x10004], 0x400087
    mov dword [0x10000 + 0x3ff * 4], 0x800081
    mov edi, 0x11000
    mov eax, 7
    mov ecx, 1024
.fill:
    stosd
    add eax, 0x1000
    loop .fill
    mov dword [0x11000 + 0x20 * 4], 0x20005
    mov dword [0x11000 + 0x21 * 4], 0x21003
    mov dword [0x11000 + 0x22 * 4], 0
    mov dword [0x11000 + 0x23 * 4], 0x123007
    mov dword [0x11000 + 0x24 * 4], 0x2411f
    mov eax, 0x10
    mov cr4, eax
    mov eax, 0x10000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80010000
    mov cr0, eax
    mov eax, [0x20000]          ; set A on a few entries, D on one
    mov [0x21000], eax
    mov eax, [0x400010]
    jmp done
""" + DONE + GDT_TAIL

# PAE: PDPT 0x10000 (entries 0 and 3), PD0 0x11000, PT 0x12000, PD3 0x13000.  PT maps
# 0-2 MiB identically with the same exceptions as PSE32; PD0[1] a 2 MiB supervisor page at
# 2 MiB, PD0[2] a 2 MiB user read-only page -> physical 6 MiB; PD3[511] a 2 MiB page at
# linear 0xffe00000 -> physical 8 MiB.
PAE = GDT_PM + """
    mov edi, 0x10000
    xor eax, eax
    mov ecx, 4 * 1024
    rep stosd
    mov dword [0x10000], 0x11001
    mov dword [0x10018], 0x13001
    mov dword [0x11000], 0x12007
    mov dword [0x11008], 0x200083
    mov dword [0x11010], 0x600085
    mov dword [0x13000 + 511 * 8], 0x800083
    mov edi, 0x12000
    mov eax, 7
    mov ecx, 512
.fill:
    mov [edi], eax
    add edi, 8
    add eax, 0x1000
    loop .fill
    mov dword [0x12000 + 0x20 * 8], 0x20005
    mov dword [0x12000 + 0x21 * 8], 0x21003
    mov dword [0x12000 + 0x22 * 8], 0
    mov dword [0x12000 + 0x23 * 8], 0x123007
    mov dword [0x12000 + 0x24 * 8], 0x2411f
    mov eax, 0x20
    mov cr4, eax
    mov eax, 0x10000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80010000
    mov cr0, eax
    mov eax, [0x20000]
    mov [0x21000], eax
    mov eax, [0x400010]
    jmp done
""" + DONE + GDT_TAIL

# 4-level: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000, PDPT-high 0x5000, PD-high 0x6000.
# PT maps 0-2 MiB identically (user, writable) with the same exceptions as above (and, when
# the CPU has NX, 0x25 no-execute); PD[1] a 2 MiB supervisor page; PDPT[1] a 1 GiB page at
# 1 GiB; PML4[511] -> PDPT-high[511] -> PD-high[511]: a 2 MiB page at 0xffffffffffe00000.
LONG = """
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7000
    in al, 0x92
    or al, 2
    out 0x92, al
    mov edi, 0x1000
    xor eax, eax
    mov ecx, 6 * 1024
    a32 rep stosd
    mov dword [0x1000], 0x2007
    mov dword [0x1000 + 511 * 8], 0x5003
    mov dword [0x2000], 0x3007
    mov dword [0x2008], 0x40000083
    mov dword [0x5000 + 511 * 8], 0x6003
    mov dword [0x6000 + 511 * 8], 0x800083
    mov dword [0x3000], 0x4007
    mov dword [0x3008], 0x200083
    mov edi, 0x4000
    mov eax, 7
    mov cx, 512
.fill:
    mov [di], eax
    add di, 8
    add eax, 0x1000
    loop .fill
    mov dword [0x4000 + 0x20 * 8], 0x20005
    mov dword [0x4000 + 0x21 * 8], 0x21003
    mov dword [0x4000 + 0x22 * 8], 0
    mov dword [0x4000 + 0x23 * 8], 0x123007
    mov dword [0x4000 + 0x24 * 8], 0x2411f
    mov esi, 0x100                      ; EFER bits to add: LME, and NXE when the CPU has NX
    mov eax, 0x80000001
    cpuid
    bt edx, 20
    jnc .nonx
    or si, 0x800
    mov dword [0x4000 + 0x25 * 8 + 4], 0x80000000
.nonx:
    mov eax, 0x1000
    mov cr3, eax
    mov eax, 0x20
    mov cr4, eax
    mov ecx, 0xc0000080
    rdmsr
    or eax, esi
    wrmsr
    lgdt [gdtr]
    mov eax, cr0
    or eax, 0x80010001
    mov cr0, eax
    jmp 0x08:lm
bits 64
lm: mov ax, 0x10
    mov ds, ax
    mov ss, ax
    mov rax, [0x20000]
    mov [0x21000], rax
    mov rax, [0x200010]
    jmp done
""" + DONE + """
align 8
gdt: dq 0
    dq 0x00af9a000000ffff
    dq 0x00cf92000000ffff
gdtr: dw gdtr - gdt - 1
    dd gdt
"""

GUESTS = {"pse32": PSE32, "pae": PAE, "long": LONG}
