; pm_boot.S -- real mode -> 32-bit protected mode, printing at each stage.
;
; Loaded at 0x7C00 and entered in real mode.  Stages:
;   1. real mode: print
;   2. LGDT, LIDT, CR0.PE=1, far jump to a 32-bit code segment; reload
;      DS/ES/SS; print (SDM Vol. 3A §9.9.1 "Switching to Protected Mode")
;   3. INT 0x30 through a 32-bit interrupt gate (SDM Vol. 3A §6.12.1) and
;      IRETD back
;   4. descriptor instructions: LTR + STR, SLDT, LAR, LSL, VERR/VERW
;   5. #UD (UD2) and #GP with an error code (a selector beyond the GDT
;      limit) delivered to handlers that print and resume
;   6. a 16-bit protected-mode code segment, and back
; then exits through isa-debug-exit (port 0xF4).
;
; GDT: 0x08 code32 ring 0, 0x10 data32 ring 0, 0x18 code16 ring 0,
;      0x20 32-bit TSS.

    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov si, msg_real
    mov dx, 0x3f8
rm_next:
    lodsb
    test al, al
    jz rm_done
    out dx, al
    jmp rm_next
rm_done:
    lgdt [gdt_desc]
    lidt [idt_desc]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp far 0x08:pm32

.code32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, 0x90000
    mov esi, msg_pm
    call puts

    ; -- stage 3: a software interrupt through a 32-bit interrupt gate ---
    mov esi, msg_int
    call puts
    sti
    int 0x30
    mov esi, msg_back
    call puts

    ; -- stage 4: descriptor instructions -------------------------------
    mov ax, 0x20
    ltr ax
    str ax
    mov esi, msg_str
    call puts
    movzx eax, ax
    mov ecx, 4
    call puthex
    sldt ax
    mov esi, msg_sldt
    call puts
    mov ecx, 4
    call puthex
    mov ebx, 0x08
    lar eax, ebx
    mov esi, msg_lar
    call puts
    mov ecx, 8
    call puthex
    mov ebx, 0x10
    lsl eax, ebx
    mov esi, msg_lsl
    call puts
    mov ecx, 8
    call puthex
    mov ebx, 0x20
    lsl eax, ebx
    mov esi, msg_lsl_tss
    call puts
    mov ecx, 4
    call puthex
    mov esi, msg_verr
    call puts
    mov eax, 0x08
    verr ax
    setz al
    movzx eax, al
    mov ecx, 1
    call puthex
    mov eax, 0x08
    verw ax
    setz al
    movzx eax, al
    call puthex
    mov eax, 0x10
    verw ax
    setz al
    movzx eax, al
    call puthex
    mov esi, msg_nl
    call puts

    ; -- stage 5: faults with and without an error code -------------------
    mov dword ptr [resume], after_ud
fault_ud:
    ud2
after_ud:
    mov dword ptr [resume], after_gp
    mov ax, 0x80
fault_gp:
    mov ds, ax
after_gp:

    ; -- stage 6: a 16-bit code segment ----------------------------------
    jmp far 0x18:pm16          ; 32-bit code: a 6-byte pointer (EA, a 32-bit
                               ; offset, the selector); the target segment is
                               ; 16-bit
back32:
    mov esi, msg_done
    call puts
    mov al, 0
    out 0xf4, al
    hlt

.code16
pm16:
    mov si, msg_16
    mov dx, 0x3f8
p16_next:
    lodsb
    test al, al
    jz p16_done
    out dx, al
    jmp p16_next
p16_done:
    jmp far 0x08:back32

.code32
; -- handlers ---------------------------------------------------------------
int30:
    push eax
    push ecx
    push esi
    mov esi, msg_in30
    call puts
    mov eax, [esp+0x10]          ; the pushed CS
    mov ecx, 4
    call puthex
    mov esi, msg_eflags
    call puts
    pushfd
    pop eax
    and eax, 0x200             ; IF, cleared by the interrupt gate
    mov ecx, 3
    call puthex
    mov esi, msg_nl
    call puts
    pop esi
    pop ecx
    pop eax
    iretd

ud_handler:
    push eax
    push ecx
    push esi
    mov esi, msg_ud
    call puts
    mov eax, [esp+0xc]          ; the faulting EIP
    mov ecx, 8
    call puthex
    mov esi, msg_nl
    call puts
    mov eax, [resume]
    mov [esp+0xc], eax
    pop esi
    pop ecx
    pop eax
    iretd

gp_handler:
    push eax
    push ecx
    push esi
    mov ax, 0x10               ; DS is still the kernel's (the load faulted)
    mov ds, ax
    mov esi, msg_gp
    call puts
    mov eax, [esp+0xc]          ; the error code
    mov ecx, 4
    call puthex
    mov esi, msg_at
    call puts
    mov eax, [esp+0x10]          ; the faulting EIP
    mov ecx, 8
    call puthex
    mov esi, msg_nl
    call puts
    mov eax, [resume]
    mov [esp+0x10], eax
    pop esi
    pop ecx
    pop eax
    add esp, 4                 ; drop the error code
    iretd

.include "serial32.inc"                ; puts, puthex (emu/guests/lib)

resume: dd 0

gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00cf9b00      ; 0x08 code32, ring 0, flat (accessed)
    dd 0x0000ffff, 0x00cf9300      ; 0x10 data32, ring 0, flat
    dd 0x0000ffff, 0x00009b00      ; 0x18 code16, ring 0, base 0, 64 KiB
    dw 0x0067, tss, 0x8900, 0      ; 0x20 32-bit TSS (available), 104 bytes
gdt_desc:
    dw 5 * 8 - 1                   ; (constants, not label differences:
    dd gdt                         ;  keystone mis-assembles those at times)

idt:
    .fill 8 * 6, 1, 0
    dw ud_handler, 0x08, 0x8e00, 0     ; 6: #UD, 32-bit interrupt gate
    .fill 8 * 6, 1, 0
    dw gp_handler, 0x08, 0x8e00, 0     ; 13: #GP
    .fill 8 * (0x30 - 0xe), 1, 0
    dw int30, 0x08, 0x8e00, 0          ; 0x30: a 32-bit interrupt gate
idt_desc:
    dw 0x31 * 8 - 1
    dd idt

tss:
    .fill 0x68, 1, 0

msg_real:   .asciz "real mode: hello from 0000:7c00\n"
msg_pm:     .asciz "protected mode: 32-bit code segment 0008, CPL 0\n"
msg_str:    .asciz "str="
msg_sldt:   .asciz " sldt="
msg_lar:    .asciz " lar(0008)="
msg_lsl:    .asciz " lsl(0010)="
msg_lsl_tss: .asciz " lsl(0020)="
msg_verr:   .asciz "\nverr(0008) verw(0008) verw(0010): "
msg_int:    .asciz "int 0x30 through a 32-bit interrupt gate\n"
msg_in30:   .asciz "  in the handler: cs="
msg_eflags: .asciz " eflags.if="
msg_back:   .asciz "back from int 0x30 (iretd)\n"
msg_ud:     .asciz "#UD at eip="
msg_gp:     .asciz "#GP error code="
msg_at:     .asciz " at eip="
msg_16:     .asciz "16-bit protected mode: code segment 0018\n"
msg_done:   .asciz "back in 32-bit protected mode; done\n"
msg_nl:     .asciz "\n"
