; exceptions -- faults and traps in real mode, 32-bit protected mode (with paging) and vm86.
;
; Each test records what it expects (vector, error code, pushed EIP, CR2 for #PF) and where to
; resume; the handler prints what the CPU pushed, compares and resumes after the faulting
; instruction.  Real mode (IVT): #DE (div), #UD (ud2), #BP (int3, pushes the next IP).
; PM32 (IDT, 32-bit interrupt gates): #DE, #DB (TF single step), #BP, #BR (bound), #UD,
; #GP (selector beyond the GDT limit), #NP (not-present data segment into DS), #SS (the same
; into SS), then paging (4 KiB pages, CR0.WP) #PF on a not-present page (read) and on a
; read-only page (write).  vm86 (IOPL 0, TSS SS0:ESP0): #GP from CLI, #PF from a user read of
; a supervisor page, and #GP from HLT, which leaves vm86 for good.  Then "N/N exceptions as
; expected" and STATE in PM32 with paging on (FS/GS null after the exit from vm86).

%include "lib/boot.inc"
%include "lib/pm.inc"

V86_SEG equ 0x1000
%define V(x) ((x) - v86_start)
PDIR    equ 0x1000
PTAB    equ 0x2000
RO_PAGE equ 0x5000              ; present, read-only, user
SV_PAGE equ 0x6000              ; present, writable, supervisor only
NP_ADDR equ 0x00800123          ; PDE 2 is not present
NOERR   equ 0xffffffff          ; "no error code" (real mode)
LEAVE_VM86   equ 0xffffffff          ; resume value: leave vm86 for good

; EXPECT vector, error code, pushed EIP, resume EIP   (DS base must be 0)
%macro EXPECT 4
        mov dword [exp_vec], %1
        mov dword [exp_err], %2
        mov dword [exp_eip], %3
        mov dword [resume], %4
        inc dword [tests]
%endmacro

main:
        cli
        mov esi, s_title
        call r_puts
        NORMALISE_CRS
        A20_FAST
        ; ---- real mode: handlers in the IVT ----
        mov dword [0 * 4], rvec0
        mov dword [3 * 4], rvec3
        mov dword [6 * 4], rvec6
        EXPECT 0, NOERR, .f1, .r1
        mov ax, 1
        xor bl, bl
.f1:    div bl
.r1:    EXPECT 6, NOERR, .f2, .r2
.f2:    ud2
.r2:    EXPECT 3, NOERR, .r3, .r3
        int3
.r3:
        ; ---- 32-bit protected mode ----
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

; real-mode handlers: push the vector and join rm_exc
rvec0:  push word 0
        jmp rm_exc
rvec3:  push word 3
        jmp rm_exc
rvec6:  push word 6
        jmp rm_exc
rm_exc:                         ; [bp+2] vector, [bp+4] IP, [bp+6] CS, [bp+8] FLAGS
        push bp
        mov bp, sp
        pushad
        mov esi, s_real
        movzx eax, word [bp + 2]
        mov ebx, NOERR
        movzx ecx, word [bp + 4]
        mov dx, [bp + 6]
        call r_report
        mov ax, [resume]
        mov [bp + 4], ax
        popad
        pop bp
        add sp, 2
        iret

        bits 32
pm32:   mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, 0x7000
        mov ax, 0x30
        ltr ax
        EXPECT 0, 0, .f1, .r1
        xor edx, edx
        mov eax, 1
        xor ecx, ecx
.f1:    div ecx
.r1:    EXPECT 1, 0, .r2, .r2           ; single-step trap after the NOP
        pushfd
        or dword [esp], 0x100
        popfd
        nop
.r2:    EXPECT 3, 0, .r3, .r3
        int3
.r3:    EXPECT 5, 0, .f4, .r4
        mov eax, 100
.f4:    bound eax, [bounds]
.r4:    EXPECT 6, 0, .f5, .r5
.f5:    ud2
.r5:    EXPECT 13, 0x48, .f6, .r6       ; selector 48h is beyond the GDT limit
        mov ax, 0x48
.f6:    mov ds, ax
.r6:    EXPECT 11, 0x28, .f7, .r7       ; 28h: not-present data segment
        mov ax, 0x28
.f7:    mov ds, ax
.r7:    EXPECT 12, 0x28, .f8, .r8
        mov ax, 0x28
.f8:    mov ss, ax
.r8:
        ; paging: identity-map 0..4 MiB with 4 KiB pages, all user/writable except two
        xor eax, eax
        mov edi, PDIR
        mov ecx, 2 * 4096 / 4
        rep stosd
        mov dword [PDIR], PTAB | 7
        mov edi, PTAB
        mov eax, 7
        mov ecx, 1024
.pte:   stosd
        add eax, 4096
        loop .pte
        mov dword [PTAB + (RO_PAGE >> 12) * 4], RO_PAGE | 5
        mov dword [PTAB + (SV_PAGE >> 12) * 4], SV_PAGE | 3
        mov eax, PDIR
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80010000              ; PG | WP
        mov cr0, eax
        EXPECT 14, 0, .f9, .r9
        mov dword [exp_cr2], NP_ADDR
.f9:    mov eax, [NP_ADDR]
.r9:    EXPECT 14, 3, .f10, .r10
        mov dword [exp_cr2], RO_PAGE + 8
.f10:   mov dword [RO_PAGE + 8], eax
.r10:
        ; ---- vm86 ----
        push dword 0x1300               ; GS
        push dword 0x1200               ; FS
        push dword 0                    ; DS (the EXPECT variables are at linear < 64 KiB)
        push dword 0x1100               ; ES
        push dword V86_SEG              ; SS
        push dword 0xfffe               ; ESP
        push dword 0x00020002           ; EFLAGS: VM, IOPL 0, IF 0
        push dword V86_SEG              ; CS
        push dword 0                    ; EIP
        iretd

vm86_left:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov esi, s_summary1
        call p_puts
        mov eax, [passed]
        call r_dec_p
        mov al, '/'
        call p_putc
        mov eax, [tests]
        call r_dec_p
        mov eax, [passed]
        cmp eax, [tests]
        jne summary_fail
        mov esi, s_summary2
        call p_puts
        SET_FINAL_REGS 0x6800
        call p_dump_state
        FINAL_HALT
summary_fail:
        mov esi, s_summary_fail
        call p_puts
        jmp final_halt

r_dec_p:                                ; EAX (< 65536) in decimal, 32-bit code
        push eax
        push ebx
        push ecx
        push edx
        xor ecx, ecx
        mov ebx, 10
.d:     xor edx, edx
        div ebx
        push edx
        inc ecx
        test eax, eax
        jnz .d
.p:     pop eax
        add al, '0'
        call p_putc
        loop .p
        pop edx
        pop ecx
        pop ebx
        pop eax
        ret

; IDT stubs: push a dummy error code where the CPU pushes none, then the vector
%assign i 0
%rep 32
pvec_%[i]:
  %if i != 8 && i != 10 && i != 11 && i != 12 && i != 13 && i != 14 && i != 17
        push dword 0
  %endif
        push dword i
        jmp pm_exc
%assign i i+1
%endrep

F_VEC equ 32                    ; frame offsets after PUSHAD
F_ERR equ 36
F_EIP equ 40
F_CS  equ 44
F_EFL equ 48
F_ESP equ 52
F_SS  equ 56
F_ES  equ 60
F_DS  equ 64
F_FS  equ 68
F_GS  equ 72
pm_exc:
        pushad
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ebp, esp
        mov esi, s_pm32
        test dword [ebp + F_EFL], 0x20000
        jz .pm
        mov esi, s_vm86
.pm:    mov eax, [ebp + F_VEC]
        mov ebx, [ebp + F_ERR]
        mov ecx, [ebp + F_EIP]
        mov edx, [ebp + F_CS]
        call p_report
        test dword [ebp + F_EFL], 0x20000
        jz .resume
        ; a vm86 frame: print the rest of it
        mov esi, s_frame
        call p_puts
        mov ebx, frame_fields
.field: movzx eax, byte [ebx]
        test al, al
        jz .fdone
        mov esi, [ebx + 1]
        call p_puts
        mov cl, [ebx + 5]
        mov eax, [ebp + eax]
        call p_hexn
        add ebx, 6
        jmp .field
.fdone: mov al, 10
        call p_putc
        cmp dword [resume], LEAVE_VM86
        jne .resume
        mov esp, 0x6800                 ; leave vm86 for good
        jmp vm86_left
.resume:
        mov eax, [resume]
        mov [ebp + F_EIP], eax
        and dword [ebp + F_EFL], ~0x100 ; clear TF (the #DB test)
        popad
        add esp, 8
        iretd

        bits 16
%macro REPORT_LIB 1
; report: ESI = mode prefix, EAX = vector, EBX = error code (NOERR: none), ECX = pushed EIP,
; EDX = pushed CS.  Prints "<mode> #XX vec=VV [err=EEEEEEEE] at CCCC:IIIIIIII [CR2=...]"
; and " ok" or " MISMATCH", compares with exp_*, counts passes.  CPL 0, DS base 0.
%{1}report:
        pushad
        call %{1}puts
        push esi
        mov esi, s_unknown
        cmp eax, 20
        jae .named
        lea esi, [vec_names + eax * 4]
.named: call %{1}puts
        pop esi
        push esi
        mov esi, s_vec
        call %{1}puts
        call %{1}hex8
        cmp ebx, NOERR
        je .noerr
        push eax
        mov esi, s_err
        call %{1}puts
        mov eax, ebx
        call %{1}hex32
        pop eax
.noerr: mov esi, s_at
        call %{1}puts
        push eax
        mov ax, dx
        call %{1}hex16
        mov al, ':'
        call %{1}putc
        mov eax, ecx
        call %{1}hex32
        pop eax
        xor edi, edi                    ; mismatch flag
        cmp eax, 14
        jne .nocr2
        push eax
        mov esi, s_cr2
        call %{1}puts
        mov eax, cr2
        call %{1}hex32
        cmp eax, [exp_cr2]
        je .cr2ok
        inc edi
.cr2ok: pop eax
.nocr2: cmp eax, [exp_vec]
        je .v
        inc edi
.v:     cmp ebx, [exp_err]
        je .e
        inc edi
.e:     cmp ecx, [exp_eip]
        je .i
        inc edi
.i:     mov esi, s_ok
        test edi, edi
        jnz .bad
        inc dword [passed]
        jmp .out
.bad:   mov esi, s_mismatch
.out:   call %{1}puts
        pop esi
        popad
        ret
%endmacro

REPORT_LIB r_
STATE_LIB r_
        bits 32
SERIAL_LIB p_
STATE_LIB p_
REPORT_LIB p_

; ---- vm86 code: copied to V86_SEG:0000, CPL 3, IOPL 0, DS=0 on entry ----
        bits 16
v86_start:
        EXPECT 13, 0, V(.f1), V(.r1)
.f1:    cli                             ; IOPL-sensitive: #GP(0)
.r1:    EXPECT 14, 5, V(.f2), V(.r2)    ; user read of a supervisor page
        mov dword [exp_cr2], SV_PAGE + 0x10
        mov ax, SV_PAGE >> 4
        mov ds, ax
.f2:    mov al, [0x10]
.r2:    xor ax, ax
        mov ds, ax
        EXPECT 13, 0, V(.f3), LEAVE_VM86
.f3:    hlt                             ; #GP(0): the monitor leaves vm86
        jmp $
v86_end:

; ---- data ----
        align 4
exp_vec: dd 0
exp_err: dd 0
exp_eip: dd 0
exp_cr2: dd 0
resume:  dd 0
tests:   dd 0
passed:  dd 0
bounds:  dd 0, 10

        align 8
gdt:    dq 0
        DESC 0, 0xfffff, 0x9a, 0xc              ; 08: code32 flat
        DESC 0, 0xfffff, 0x92, 0xc              ; 10: data32 flat
        DESC 0, 0x0ffff, 0x9a, 0x0              ; 18: code16
        DESC 0, 0x0ffff, 0x92, 0x0              ; 20: data16
        DESC 0, 0xfffff, 0x12, 0xc              ; 28: data32, NOT present
        DESC LIN(tss), tss_end - tss - 1, 0x89, 0x0  ; 30: 32-bit TSS
        DESC 0, 0xfffff, 0x92, 0xc              ; 38: data32 flat
        DESC 0, 0xfffff, 0x92, 0xc              ; 40: data32 flat (48h is beyond the limit)
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt

        align 8
idt:
%assign i 0
%rep 32
        GATE32 LIN(pvec_%[i]), 0x08, 0x8e
%assign i i+1
%endrep
idt_end:
idtr:   dw idt_end - idt - 1
        dd idt

        align 16
tss:    dd 0
        dd 0x6800                       ; ESP0
        dd 0x10                         ; SS0
        times 22 dd 0
        dw 0
        dw tss_end - tss                ; I/O map base beyond the limit: no I/O in vm86
tss_end:

frame_fields:
        db F_EFL
        dd s_f_efl
        db 8
        db F_SS
        dd s_f_ss
        db 4
        db F_ESP
        dd s_f_esp
        db 8
        db F_ES
        dd s_f_es
        db 4
        db F_DS
        dd s_f_ds
        db 4
        db F_FS
        dd s_f_fs
        db 4
        db F_GS
        dd s_f_gs
        db 4
        db 0

vec_names: db "#DE", 0, "#DB", 0, "NMI", 0, "#BP", 0, "#OF", 0, "#BR", 0, "#UD", 0, "#NM", 0
           db "#DF", 0, "#09", 0, "#TS", 0, "#NP", 0, "#SS", 0, "#GP", 0, "#PF", 0, "#15", 0
           db "#MF", 0, "#AC", 0, "#MC", 0, "#XM", 0
s_unknown: db "#??", 0
s_title:   db "exceptions: faults and traps in real mode, pm32 and vm86", 10, 0
s_real:    db "real ", 0
s_pm32:    db "pm32 ", 0
s_vm86:    db "vm86 ", 0
s_vec:     db " vec=", 0
s_err:     db " err=", 0
s_at:      db " at ", 0
s_cr2:     db " CR2=", 0
s_ok:      db " ok", 10, 0
s_mismatch: db " MISMATCH", 10, 0
s_frame:   db "     frame:", 0
s_f_efl:   db " EFL=", 0
s_f_ss:    db " SS:ESP=", 0
s_f_esp:   db ":", 0
s_f_es:    db " ES=", 0
s_f_ds:    db " DS=", 0
s_f_fs:    db " FS=", 0
s_f_gs:    db " GS=", 0
s_summary1: db "exceptions as expected: ", 0
s_summary2: db 10, 0
s_summary_fail: db 10, "FAIL some exceptions were not as expected", 10, 0
        HALT_MARKER
payload_end:
%include "lib/end.inc"
