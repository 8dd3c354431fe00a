; vm86 -- a minimal virtual-8086 monitor.
;
; PM32 with a GDT, an IDT (#GP handler at vector 13, a software-interrupt gate at 21h, a stub
; that reports any other vector) and a 32-bit TSS (SS0:ESP0 = 0010:00006800, IOPL 0) whose I/O
; permission bitmap allows only ports 3F8h-3FFh (COM1).  The monitor checks the IDT with
; `int 21h`, then IRETDs into vm86 at 1000:0000 (code copied to linear 0x10000) with
; SS:SP=1000:FFFE, DS=1000 ES=1100 FS=1200 GS=1300, EFLAGS=00020002 (VM, IOPL 0, IF 0).
; The vm86 code prints over COM1 with IN/OUT (allowed by the bitmap), tries `out 80h, al`
; (denied by the bitmap: #GP, the monitor skips it), calls `int 30h` (IOPL 0: #GP, the monitor
; decodes it and emulates it: AX := 4F4Bh, IP += 2) and finally executes `hlt` (#GP): the
; monitor prints the saved vm86 frame and stays in ring 0.  Final state: PM32, CPL 0,
; CS=08 DS=ES=SS=10, FS=GS=0 (nulled by the processor on the exit from vm86), TR=18 (busy).

%include "lib/boot.inc"
%include "lib/pm.inc"

V86_SEG   equ 0x1000
%define V(x) ((x) - v86_start)

main:
        cli
        mov esi, s_title
        call r_puts
        NORMALISE_CRS
        A20_FAST
        ; copy the vm86 code to V86_SEG:0000
        mov ax, V86_SEG
        mov es, ax
        mov si, v86_start
        xor di, di
        mov cx, v86_end - v86_start
        rep movsb
        xor ax, ax
        mov es, ax
        lgdt [gdtr]
        lidt [idtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:pm32

        bits 32
pm32:   mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, 0x7000
        mov ax, 0x18
        ltr ax
        mov esi, s_pm
        call p_puts
        int 0x21
        ; enter vm86
        push dword 0x1300       ; GS
        push dword 0x1200       ; FS
        push dword 0x1000       ; DS
        push dword 0x1100       ; ES
        push dword V86_SEG      ; SS
        push dword 0xfffe       ; ESP
        push dword 0x00020002   ; EFLAGS: VM, IOPL 0, IF 0
        push dword V86_SEG      ; CS
        push dword 0            ; EIP
        iretd

; ---- ring-0 handlers ----
int21_handler:
        push esi
        push eax
        mov esi, s_int21
        call p_puts
        mov eax, [esp + 8]      ; pushed EIP
        call p_hex32
        mov al, 10
        call p_putc
        pop eax
        pop esi
        iretd

; #GP: the frame is ERR EIP CS EFLAGS [ESP SS ES DS FS GS if from vm86]
GP_ERR equ 32
GP_EIP equ 36
GP_CS  equ 40
GP_EFL equ 44
GP_ESP equ 48
GP_SS  equ 52
GP_ES  equ 56
GP_DS  equ 60
GP_FS  equ 64
GP_GS  equ 68
PA_EAX equ 28                   ; EAX in the PUSHAD frame
gp_handler:
        pushad
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ebp, esp
        test dword [ebp + GP_EFL], 0x20000
        jz near .notvm
        mov esi, s_gp
        call p_puts
        mov ax, [ebp + GP_CS]
        call p_hex16
        mov al, ':'
        call p_putc
        mov ax, [ebp + GP_EIP]
        call p_hex16
        mov esi, s_err
        call p_puts
        mov eax, [ebp + GP_ERR]
        call p_hex16
        mov esi, s_colon
        call p_puts
        movzx ebx, word [ebp + GP_CS]
        shl ebx, 4
        movzx eax, word [ebp + GP_EIP]
        add ebx, eax            ; linear address of the faulting instruction
        mov al, [ebx]
        cmp al, 0xcd
        je .int
        cmp al, 0xe6
        je .out
        cmp al, 0xf4
        je .hlt
        mov esi, s_unknown
        call p_puts
        jmp final_halt
.int:   mov esi, s_int
        call p_puts
        mov al, [ebx + 1]
        call p_hex8
        cmp al, 0x30
        jne .intother
        mov word [ebp + PA_EAX], 0x4f4b     ; the emulated service's result
        mov esi, s_emul
        call p_puts
        jmp .skip2
.intother:
        mov esi, s_skipped
        call p_puts
.skip2: add word [ebp + GP_EIP], 2
        popad
        add esp, 4
        iretd
.out:   mov esi, s_out
        call p_puts
        mov al, [ebx + 1]
        call p_hex8
        mov esi, s_denied
        call p_puts
        jmp .skip2
.hlt:   mov esi, s_hlt
        call p_puts
        mov esi, s_frame
        call p_puts
        mov ebx, frame_fields
.field: movzx eax, byte [ebx]   ; frame offset
        test al, al
        jz .framedone
        mov esi, [ebx + 1]      ; name
        call p_puts
        mov cl, [ebx + 5]       ; digits
        mov eax, [ebp + eax]
        call p_hexn
        add ebx, 6
        jmp .field
.framedone:
        mov al, 10
        call p_putc
        jmp left_vm86
.notvm: mov esi, s_notvm
        call p_puts
        mov eax, [ebp + GP_EIP]
        call p_hex32
        mov al, 10
        call p_putc
        jmp final_halt

%assign i 0
%rep 0x31
vec_%[i]:
        push dword i
        jmp unexpected
%assign i i+1
%endrep
unexpected:
        mov ax, 0x10
        mov ds, ax
        mov esi, s_unexp
        call p_puts
        pop eax
        call p_hex8
        mov al, 10
        call p_putc
        jmp final_halt

left_vm86:
        ; ring 0 again, for good: SS:ESP came from the TSS, FS/GS are null
        SET_FINAL_REGS 0x6800
        call p_dump_state
        FINAL_HALT

SERIAL_LIB p_
STATE_LIB p_

; ---- vm86 code: copied to V86_SEG:0000, runs at CPL 3 with IOPL 0 ----
        bits 16
v86_start:
        mov esi, V(v_hello)
        call v_puts
        mov esi, V(v_segs)
        call v_puts
        mov ax, cs
        call v_hex16
        mov esi, V(v_ss)
        call v_puts
        mov ax, ss
        call v_hex16
        mov esi, V(v_ds)
        call v_puts
        mov ax, ds
        call v_hex16
        mov esi, V(v_es)
        call v_puts
        mov ax, es
        call v_hex16
        mov esi, V(v_fs)
        call v_puts
        mov ax, fs
        call v_hex16
        mov esi, V(v_gs)
        call v_puts
        mov ax, gs
        call v_hex16
        mov al, 10
        call v_putc
        out 0x80, al            ; port 80h is not in the bitmap: #GP
        mov esi, V(v_afterout)
        call v_puts
        xor ax, ax
        int 0x30                ; IOPL 0: #GP, emulated by the monitor
        mov esi, V(v_int30)
        call v_puts
        call v_hex16
        mov al, 10
        call v_putc
        hlt                     ; #GP: the monitor leaves vm86
        jmp $

SERIAL_LIB v_

v_hello:    db "vm86: hello from virtual-8086 mode (COM1 through the TSS I/O bitmap)", 10, 0
v_segs:     db "vm86: CS=", 0
v_ss:       db " SS=", 0
v_ds:       db " DS=", 0
v_es:       db " ES=", 0
v_fs:       db " FS=", 0
v_gs:       db " GS=", 0
v_afterout: db "vm86: after OUT 80h", 10, 0
v_int30:    db "vm86: INT 30h returned AX=", 0
v86_end:

; ---- tables ----
        align 8
gdt:    dq 0
        DESC 0, 0xfffff, 0x9a, 0xc              ; 08: code32 flat
        DESC 0, 0xfffff, 0x92, 0xc              ; 10: data32 flat
        DESC LIN(tss), tss_end - tss - 1, 0x89, 0x0  ; 18: 32-bit TSS
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt

        align 8
idt:
%assign i 0
%rep 0x31
  %if i == 13
        GATE32 LIN(gp_handler), 0x08, 0x8e
  %elif i == 0x21
        GATE32 LIN(int21_handler), 0x08, 0x8e
  %else
        GATE32 LIN(vec_%[i]), 0x08, 0x8e
  %endif
%assign i i+1
%endrep
idt_end:
idtr:   dw idt_end - idt - 1
        dd idt

        align 16
tss:    dd 0                    ; previous task link
        dd 0x6800               ; ESP0
        dd 0x10                 ; SS0
        times 22 dd 0           ; ESP1 .. LDT selector
        dw 0                    ; T
        dw iomap - tss          ; I/O map base
iomap:  times 0x3f8 / 8 db 0xff ; ports 000-3F7: denied
        db 0x00                 ; ports 3F8-3FF: allowed (COM1)
        db 0xff                 ; terminator (ports beyond the TSS limit are denied)
tss_end:

frame_fields:                   ; offset, name, digits
        db GP_EIP
        dd s_f_eip
        db 8
        db GP_CS
        dd s_f_cs
        db 4
        db GP_EFL
        dd s_f_efl
        db 8
        db GP_ESP
        dd s_f_esp
        db 8
        db GP_SS
        dd s_f_ss
        db 4
        db GP_ES
        dd s_f_es
        db 4
        db GP_DS
        dd s_f_ds
        db 4
        db GP_FS
        dd s_f_fs
        db 4
        db GP_GS
        dd s_f_gs
        db 4
        db 0

s_title:   db "vm86: a minimal virtual-8086 monitor", 10, 0
s_pm:      db "pm32: GDT, IDT, TSS loaded (IOPL 0, I/O bitmap allows 3F8-3FF)", 10, 0
s_int21:   db "pm32: INT 21h through the IDT, pushed EIP=", 0
s_gp:      db "GP from vm86 at ", 0
s_err:     db " err=", 0
s_colon:   db ": ", 0
s_int:     db "INT ", 0
s_emul:    db "h, emulated (AX=4F4B)", 10, 0
s_skipped: db "h, skipped", 10, 0
s_out:     db "OUT ", 0
s_denied:  db "h,AL denied by the I/O bitmap, skipped", 10, 0
s_hlt:     db "HLT, leaving vm86", 10, 0
s_frame:   db "frame:", 0
s_f_eip:   db " EIP=", 0
s_f_cs:    db " CS=", 0
s_f_efl:   db " EFL=", 0
s_f_esp:   db " ESP=", 0
s_f_ss:    db " SS=", 0
s_f_es:    db " ES=", 0
s_f_ds:    db " DS=", 0
s_f_fs:    db " FS=", 0
s_f_gs:    db " GS=", 0
s_unknown: db "FAIL unexpected instruction", 10, 0
s_notvm:   db "FAIL #GP in ring 0 at EIP=", 0
s_unexp:   db "FAIL unexpected vector ", 0
        HALT_MARKER
payload_end:
%include "lib/end.inc"
