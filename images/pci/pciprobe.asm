; PCI configuration space and PCI BIOS probe: prints on port E9h what configuration mechanism #1
; (ports CF8h/CFCh) and INT 1Ah AX=B1xxh return, so that bootdbg can be compared with
; qemu-system-i386 (-machine pc,acpi=off -nodefaults: host bridge, ISA bridge, IDE).
; Built with the conformance prelude (-I images/conformance/); the BIOS calls are the point here.
%include "lib.inc"

CFG equ 0xcf8
DAT equ 0xcfc

; CFGADDR: EAX = 80000000h | bus:dev.fn in BX (as the PCI BIOS numbers it) << 8 | reg
main:
    ; -- every function on bus 0: its first 256 bytes as dwords, when the vendor is not FFFFh
    xor bx, bx
.dev:
    mov eax, 0x80000000
    mov ax, bx
    shl eax, 8
    bts eax, 31
    mov dx, CFG
    out dx, eax
    mov dx, DAT
    in eax, dx
    cmp ax, 0xffff
    je .next
    mov ax, bx
    call hex16
    PRINT ":"
    call newline
    xor di, di
.reg:
    mov eax, 0
    mov ax, bx
    shl eax, 8
    or ax, di
    bts eax, 31
    mov dx, CFG
    out dx, eax
    mov dx, DAT
    in eax, dx
    call hex32
    add di, 4
    test di, 0x1f
    jnz .sp
    call newline
    jmp .nr
.sp: call space
.nr: cmp di, 256
    jb .reg
.next:
    inc bx
    cmp bx, 0x100
    jb .dev
    ; -- byte and word accesses inside the data window, the address register read back
    mov eax, 0x80000900         ; 00:01.1 vendor and device
    mov dx, CFG
    out dx, eax
    PRINT "sizes"
    mov dx, DAT
    in al, dx
    call space
    call hex8
    inc dx
    in al, dx
    call space
    call hex8
    inc dx
    in ax, dx
    call space
    call hex16
    inc dx
    in al, dx
    call space
    call hex8
    mov dx, DAT
    in ax, dx
    call space
    call hex16
    mov dx, CFG
    in eax, dx
    call space
    call hex32
    in ax, dx
    call space
    call hex16
    mov dx, CFG + 2
    in al, dx
    call space
    call hex8
    mov dx, 0xcf9               ; PIIX3 reset control register
    in al, dx
    call space
    call hex8
    call newline
    ; a byte or word write to CF8h does not change the address
    mov dx, CFG
    mov al, 0x10
    out dx, al
    mov ax, 0x1234
    out dx, ax
    in eax, dx
    PRINT "cf8 after narrow writes "
    call hex32
    call newline
    ; enable bit clear: the data port reads all ones
    mov eax, 0x00000000
    mov dx, CFG
    out dx, eax
    mov dx, DAT
    in eax, dx
    PRINT "disabled "
    call hex32
    call newline
    ; no device: 00:05.0, 00:01.4, bus 1
    PRINT "absent"
    mov eax, 0x80002800
    call cfgread
    mov eax, 0x80000c00
    call cfgread
    mov eax, 0x80010000
    call cfgread
    call newline
    ; writes: IDE interrupt line (RW), vendor (RO), command (RW bits), BAR4 sizing, status
    PRINT "writes"
    mov eax, 0x8000093c
    mov ecx, 0x0000000b
    call cfgwrite
    mov eax, 0x80000900
    mov ecx, 0x12345678
    call cfgwrite
    mov eax, 0x80000904
    mov ecx, 0xffffffff
    call cfgwrite
    mov eax, 0x80000904
    mov ecx, 0x00000005
    call cfgwrite
    mov eax, 0x80000920
    call cfgread                ; BAR4 as the BIOS left it
    mov ebp, [lastread]
    mov ecx, 0xffffffff
    call cfgwrite
    mov ecx, ebp
    call cfgwrite
    mov eax, 0x80000904         ; status: the write-one-to-clear bits
    mov ecx, 0xffff0005
    call cfgwrite
    mov eax, 0x8000000c         ; cache line size, latency, header type, BIST
    mov ecx, 0xffffffff
    call cfgwrite
    mov eax, 0x8000080c
    call cfgwrite
    mov eax, 0x8000003c         ; interrupt line and pin of the bridges
    call cfgwrite
    mov eax, 0x8000083c
    call cfgwrite
    mov eax, 0x80000004         ; host bridge command
    call cfgwrite
    mov eax, 0x80000010         ; host bridge BAR0 (none)
    mov ecx, 0xffffffff
    call cfgwrite
    mov eax, 0x80000810         ; ISA bridge BAR0 (none)
    call cfgwrite
    mov eax, 0x80000910         ; IDE BAR0
    call cfgwrite
    mov eax, 0x80000830         ; expansion ROM
    call cfgwrite
    mov eax, 0x80000860         ; PIIX3 PIRQ routing (RW)
    mov ecx, 0x0b0a0b0a
    call cfgwrite
    call newline
    ; byte and word writes through the data window
    PRINT "narrow"
    mov eax, 0x8000093c
    mov dx, CFG
    out dx, eax
    mov dx, DAT + 0
    mov al, 0x05
    out dx, al
    mov eax, 0x8000093c
    call cfgread
    mov eax, 0x80000940         ; IDETIM primary / secondary
    mov dx, CFG
    out dx, eax
    mov dx, DAT + 2
    mov ax, 0x8123
    out dx, ax
    mov eax, 0x80000940
    call cfgread
    call newline

    ; -- the PCI BIOS
    PRINT "B101"
    mov ax, 0xb101
    xor edx, edx
    xor ebx, ebx
    xor ecx, ecx
    int 0x1a
    call regs
    call newline
    PRINT "B102"
    mov si, 0
.find:
    mov ax, 0xb102
    mov cx, [ids + si]
    mov dx, [ids + si + 2]
    push si
    mov si, [ids + si + 4]
    mov bx, 0x5555
    int 0x1a
    pop si
    call regs
    add si, 6
    cmp si, ids_end - ids
    jb .find
    call newline
    PRINT "B103"
    mov si, 0
.cls:
    mov ax, 0xb103
    mov ecx, [classes + si]
    push si
    mov si, [classes + si + 4]
    mov bx, 0x5555
    int 0x1a
    pop si
    call regs
    add si, 6
    cmp si, classes_end - classes
    jb .cls
    call newline
    PRINT "B108"
    mov ax, 0xb108
    mov bx, 0x0009
    mov di, 0x0b
    mov ecx, 0x55555555
    int 0x1a
    call regs
    mov ax, 0xb108
    mov bx, 0x0008
    mov di, 0x0e
    int 0x1a
    call regs
    mov ax, 0xb108
    mov bx, 0x0028
    mov di, 0x00
    int 0x1a
    call regs
    call newline
    PRINT "B109"
    mov ax, 0xb109
    mov bx, 0x0000
    mov di, 0x02
    mov ecx, 0x55555555
    int 0x1a
    call regs
    mov ax, 0xb109
    mov bx, 0x0000
    mov di, 0x03
    int 0x1a
    call regs
    call newline
    PRINT "B10A"
    mov ax, 0xb10a
    mov bx, 0x0009
    mov di, 0x08
    mov ecx, 0x55555555
    int 0x1a
    call regs
    mov ax, 0xb10a
    mov bx, 0x0009
    mov di, 0x06
    int 0x1a
    call regs
    call newline
    PRINT "B10B-D"
    mov ax, 0xb10b
    mov bx, 0x0009
    mov di, 0x3c
    mov cl, 0x0e
    int 0x1a
    call regs
    mov ax, 0xb10c
    mov bx, 0x0009
    mov di, 0x42
    mov cx, 0x8077
    int 0x1a
    call regs
    mov ax, 0xb10c
    mov di, 0x41
    int 0x1a
    call regs
    mov ax, 0xb10d
    mov bx, 0x0008
    mov di, 0x60
    mov ecx, 0x0a0b0a0b
    int 0x1a
    call regs
    mov ax, 0xb10d
    mov di, 0x62
    int 0x1a
    call regs
    mov ax, 0xb10a
    mov bx, 0x0009
    mov di, 0x3c
    int 0x1a
    call regs
    mov ax, 0xb10a
    mov di, 0x40
    int 0x1a
    call regs
    mov ax, 0xb10a
    mov bx, 0x0008
    mov di, 0x60
    int 0x1a
    call regs
    call newline
    PRINT "B1 other"
    mov ax, 0xb1f0
    int 0x1a
    call regs
    call newline
    jmp finish

; cfgread: EAX = address; prints " " and the dword (and keeps it in lastread)
cfgread:
    push eax
    push dx
    mov dx, CFG
    out dx, eax
    mov dx, DAT
    in eax, dx
    mov [lastread], eax
    call space
    call hex32
    pop dx
    pop eax
    ret

; cfgwrite: EAX = address, ECX = value; writes, then prints the dword read back
cfgwrite:
    push eax
    push dx
    mov dx, CFG
    out dx, eax
    mov dx, DAT
    xchg eax, ecx
    out dx, eax
    xchg eax, ecx
    pop dx
    call cfgread
    pop eax
    ret

; regs: " AX=.... BX=.... ECX=........ EDX=........ CF"
regs:
    pushf
    push eax
    PRINT " AX="
    call hex16
    PRINT " BX="
    mov ax, bx
    call hex16
    PRINT " ECX="
    mov eax, ecx
    call hex32
    PRINT " EDX="
    mov eax, edx
    call hex32
    pop eax
    popf
    jc .c
    PRINT " nc"
    ret
.c: PRINT " CF"
    ret

lastread: dd 0
; B102 queries: device, vendor, index
ids: dw 0x1237, 0x8086, 0,  0x7000, 0x8086, 0,  0x7010, 0x8086, 0,  0x7010, 0x8086, 1
     dw 0x7113, 0x8086, 0,  0x1111, 0x1234, 0,  0xffff, 0xffff, 0
ids_end:
; B103 queries: class code (dword), index
classes: dd 0x060000
         dw 0
         dd 0x060100
         dw 0
         dd 0x010180
         dw 0
         dd 0x010180
         dw 1
         dd 0x030000
         dw 0
classes_end:

%include "tail.inc"
