; bench-switch -- mode-switch round trips: real -> pm32 -> vm86 -> (#GP) pm32 -> pm16 -> real.
;
; Each trip: LIDT (PM IDT), CR0.PE, far jump to 32-bit code, reload segments, clear the TSS busy
; bit and LTR, IRETD into vm86 at 1000:0000, where `int 30h` (IOPL 0) raises #GP into the
; ring-0 handler (TSS SS0:ESP0), which checks the faulting CS:IP, counts, and goes back through
; 16-bit PM to real mode (CR0.PE=0, far jump, LIDT of the IVT).  TRIPS round trips; the count
; of #GPs is checked at the end.  Output: title, STATE (ESI = #GP count) and DONE, or FAIL.

%ifndef TRIPS
  %define TRIPS 5000            ; tune here (or nasm -DTRIPS=n)
%endif

%include "lib/boot.inc"
%include "lib/pm.inc"

V86_SEG equ 0x1000

main:
        cli
        mov esi, s_title
        call r_puts
        NORMALISE_CRS
        A20_FAST
        mov ax, V86_SEG
        mov es, ax
        mov si, v86_start
        xor di, di
        mov cx, v86_end - v86_start
        rep movsb
        xor ax, ax
        mov es, ax
        lgdt [gdtr]
        mov dword [trips_left], TRIPS
trip:   lidt [idtr_pm]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:pm32
back_rm:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, 0x7c00
        lidt [idtr_rm]
        dec dword [trips_left]
        jnz trip
        cmp dword [gp_count], TRIPS
        jne bad_count
        mov esp, 0x7c00
        push dword FINAL_EFL
        popfd
        mov eax, FINAL_EAX
        mov ebx, FINAL_EBX
        mov ecx, FINAL_ECX
        mov edx, FINAL_EDX
        mov esi, [gp_count]
        mov edi, FINAL_EDI
        mov ebp, FINAL_EBP
        call r_dump_state
        FINAL_HALT
bad_count:
        mov esi, s_badcount
        call r_puts
        jmp final_halt

        bits 32
pm32:   mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, 0x7000
        and byte [gdt + 0x18 + 5], ~0x02        ; TSS available again
        mov ax, 0x18
        ltr ax
        push dword 0                    ; GS
        push dword 0                    ; FS
        push dword V86_SEG              ; DS
        push dword V86_SEG              ; ES
        push dword V86_SEG              ; SS
        push dword 0xfffe               ; ESP
        push dword 0x00020002           ; EFLAGS: VM, IOPL 0, IF 0
        push dword V86_SEG              ; CS
        push dword 0                    ; EIP
        iretd

gp_handler:                             ; [esp] err, +4 EIP, +8 CS, +12 EFLAGS ...
        mov ax, 0x10
        mov ds, ax
        cmp dword [esp + 4], v86_int - v86_start
        jne .bad
        cmp dword [esp + 8], V86_SEG
        jne .bad
        test dword [esp + 12], 0x20000
        jz .bad
        inc dword [gp_count]
        mov esp, 0x7000
        jmp 0x20:pm16
.bad:   mov esi, s_badgp
        call p_puts
        jmp final_halt

unexpected:
        mov ax, 0x10
        mov ds, ax
        mov esi, s_unexp
        call p_puts
        jmp final_halt

        bits 16
pm16:   mov ax, 0x28
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov eax, cr0
        and al, 0xfe
        mov cr0, eax
        jmp 0x0000:back_rm

STATE_LIB r_
        bits 32
SERIAL_LIB p_
        bits 16

v86_start:
v86_int:
        int 0x30                        ; #GP (IOPL 0)
        jmp $
v86_end:

        align 4
trips_left: dd 0
gp_count:   dd 0

        align 8
gdt:    dq 0
        DESC 0, 0xfffff, 0x9a, 0xc      ; 08: code32 flat
        DESC 0, 0xfffff, 0x92, 0xc      ; 10: data32 flat
        DESC LIN(tss), tss_end - tss - 1, 0x89, 0x0  ; 18: 32-bit TSS
        DESC 0, 0x0ffff, 0x9a, 0x0      ; 20: code16
        DESC 0, 0x0ffff, 0x92, 0x0      ; 28: data16
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt

        align 8
idt:
%assign i 0
%rep 0x31
  %if i == 13
        GATE32 LIN(gp_handler), 0x08, 0x8e
  %else
        GATE32 LIN(unexpected), 0x08, 0x8e
  %endif
%assign i i+1
%endrep
idt_end:
idtr_pm: dw idt_end - idt - 1
         dd idt
idtr_rm: dw 0x3ff
         dd 0

        align 16
tss:    dd 0
        dd 0x6800                       ; ESP0
        dd 0x10                         ; SS0
        times 22 dd 0
        dw 0
        dw tss_end - tss                ; no I/O bitmap
tss_end:

s_title:    db "bench-switch: real/pm32/vm86 round trips, ", %str(TRIPS), " trips", 10, 0
s_badcount: db "FAIL #GP count differs from the trip count", 10, 0
s_badgp:    db "FAIL unexpected #GP", 10, 0
s_unexp:    db "FAIL unexpected exception", 10, 0
        HALT_MARKER
payload_end:
%include "lib/end.inc"
