; ring3_gp.S -- ring 3 and the #GP handler: the ring-protection story.
;
; A kernel in ring 0 sets up a GDT (ring-0 and ring-3 flat segments, a
; 32-bit TSS whose SS0:ESP0 is the kernel stack and whose I/O permission
; bitmap opens port 0x3F8 only), an IDT (#GP, and INT 0x80 as a system call
; gate with DPL 3), and drops to ring 3 with IRETD (SDM Vol. 3A §6.12.1,
; §7.2.1, Vol. 1 §18.3).  Ring 3 prints through the system call and through
; the one port the bitmap allows; then each sensitive instruction lands in
; the #GP handler, which prints the faulting address and the error code and
; resumes after it:
;   CLI and HLT at CPL 3 > IOPL 0      -> #GP(0)
;   MOV EAX, CR0 at CPL 3              -> #GP(0)
;   OUT to a port the bitmap denies    -> #GP(0)
;   MOV DS, a DPL-0 data selector      -> #GP(0010)  (the selector)
;   INT 0x81 through a DPL-0 gate      -> #GP(040a)  (IDT entry 0x81: 8*0x81+2)
; and a last system call asks the kernel to exit.
;
; GDT: 0x08 code32 ring 0, 0x10 data32 ring 0, 0x18 code32 ring 3,
;      0x20 data32 ring 3, 0x28 32-bit TSS.

    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
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
    mov esi, msg_r0
    call puts
    mov ax, 0x28
    ltr ax
    mov esi, msg_iret
    call puts
    push 0x23                  ; SS (ring 3)
    push 0x80000               ; ESP (ring 3)
    push 0x002                 ; EFLAGS: IOPL 0, IF 0
    push 0x1b                  ; CS (ring 3)
    mov eax, ring3             ; (keystone: 'push label' would push [label])
    push eax                   ; EIP
    iretd

; -- ring 3 -----------------------------------------------------------------
ring3:
    mov ax, 0x23
    mov ds, ax
    mov es, ax
    mov eax, 1
    mov esi, msg_hello3
    int 0x80
    mov esi, msg_port3
    mov dx, 0x3f8
r3_next:
    lodsb
    test al, al
    jz r3_done
    out dx, al
    jmp r3_next
r3_done:
    mov dword ptr [resume], after_cli
fault_cli:
    cli
after_cli:
    mov dword ptr [resume], after_hlt
fault_hlt:
    hlt
after_hlt:
    mov dword ptr [resume], after_cr0
fault_cr0:
    mov eax, cr0
after_cr0:
    mov dword ptr [resume], after_out
fault_out:
    out 0xf4, al
after_out:
    mov dword ptr [resume], after_ds
    mov ax, 0x10
fault_ds:
    mov ds, ax
after_ds:
    mov dword ptr [resume], after_int
fault_int:
    int 0x81
after_int:
    mov eax, 0
    int 0x80                   ; exit
    jmp after_int

; -- ring 0: handlers ---------------------------------------------------------
; the system call: EAX=0 exits, EAX=1 prints the string at ESI
syscall:
    pushad
    test eax, eax
    jz sys_exit
    call puts
    mov esi, msg_from
    call puts
    mov eax, [esp+0x24]          ; the caller's CS
    and eax, 3
    mov ecx, 1
    call puthex
    mov esi, msg_stack
    call puts
    mov eax, esp               ; the kernel stack, from the TSS's ESP0
    mov ecx, 8
    call puthex
    mov esi, msg_close
    call puts
    popad
    iretd
sys_exit:
    mov esi, msg_exit
    call puts
    mov al, 0
    out 0xf4, al
    hlt

gp_handler:
    pushad
    mov esi, msg_gp
    call puts
    mov eax, [esp+0x20]          ; the error code
    mov ecx, 4
    call puthex
    mov esi, msg_at
    call puts
    mov eax, [esp+0x28]          ; CS of the faulting instruction
    mov ecx, 4
    call puthex
    mov esi, msg_colon
    call puts
    mov eax, [esp+0x24]          ; EIP of the faulting instruction
    mov ecx, 8
    call puthex
    mov esi, msg_nl
    call puts
    mov eax, [resume]
    mov [esp+0x24], eax
    popad
    add esp, 4                 ; drop the error code
    iretd

.include "serial32.inc"                ; puts, puthex (emu/guests/lib)

resume: dd 0

gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00cf9b00      ; 0x08 code32, ring 0
    dd 0x0000ffff, 0x00cf9300      ; 0x10 data32, ring 0
    dd 0x0000ffff, 0x00cffb00      ; 0x18 code32, ring 3
    dd 0x0000ffff, 0x00cff300      ; 0x20 data32, ring 3
    dw 0x68 + 0x3f8 / 8 + 2 - 1, tss, 0x8900, 0    ; 0x28 32-bit TSS with its I/O bitmap
gdt_desc:
    dw 6 * 8 - 1                   ; (constants, not label differences:
    dd gdt                         ;  keystone mis-assembles those at times)

idt:
    .fill 8 * 0xd, 1, 0
    dw gp_handler, 0x08, 0x8e00, 0     ; 13: #GP, interrupt gate, DPL 0
    .fill 8 * (0x80 - 0xe), 1, 0
    dw syscall, 0x08, 0xee00, 0        ; 0x80: interrupt gate, DPL 3
    dw syscall, 0x08, 0x8e00, 0        ; 0x81: interrupt gate, DPL 0
idt_desc:
    dw 0x82 * 8 - 1
    dd idt

; the 32-bit TSS (SDM Vol. 3A Figure 7-2): ESP0, SS0, and the I/O map base
tss:
    dd 0                       ; previous task link
    dd 0x90000                 ; ESP0
    dd 0x10                    ; SS0
    .fill 0x66 - 0xc, 1, 0
    dw 0x68                     ; I/O permission bitmap offset: right after the TSS
    .fill 0x3f8 / 8, 1, 0xff   ; ports 0x000-0x3f7: denied
    db 0xfe                    ; port 0x3f8 allowed, 0x3f9-0x3ff denied
    db 0xff                    ; the byte after the bitmap (SDM §18.5.2)

msg_r0:     .asciz "ring 0: protected mode, TSS and IDT set up\n"
msg_iret:   .asciz "ring 0: iretd to ring 3\n"
msg_hello3: .asciz "ring 3: hello through int 0x80"
msg_from:   .asciz " (caller cpl "
msg_stack:  .asciz ", kernel esp "
msg_port3:  .asciz "ring 3: out to 0x3f8, allowed by the TSS I/O bitmap\n"
msg_gp:     .asciz "#GP error code "
msg_at:     .asciz " at "
msg_colon:  .asciz ":"
msg_exit:   .asciz "ring 0: exit requested from ring 3\n"
msg_close:  .asciz ")\n"
msg_nl:     .asciz "\n"
