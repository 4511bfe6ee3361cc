; sensitive.S -- what ring 3 may and may not do (lab 4).
;
; The kernel (ring3_32.inc: protected mode, a TSS, the IDT below) drops to
; ring 3, which tries one instruction after another.  The privileged ones
; fault: the CPU raises #GP and the kernel's handler prints the error code
; and the instruction, then resumes after it.  The last three are
; *sensitive* (they show or should change state that belongs to the
; kernel) but not privileged: they run in ring 3 without a fault.
;
; The TSS's I/O permission bitmap opens port 0x3F8 only (COM1's THR), so
; ring 3 may print but not end the run through isa-debug-exit (0xF4);
; it asks the kernel with a system call (INT 0x80, a DPL-3 gate).

.include "ring3_32.inc"

kernel:
    mov esi, msg_kernel
    call puts
    mov eax, user
    jmp enter_ring3

; -- ring 3 -----------------------------------------------------------------
user:
    mov dword ptr [what], name_cli
    mov dword ptr [resume], user_hlt
    cli
user_hlt:
    mov dword ptr [what], name_hlt
    mov dword ptr [resume], user_cr0
    hlt
user_cr0:
    mov dword ptr [what], name_cr0
    mov dword ptr [resume], user_out
    mov eax, cr0
user_out:
    mov dword ptr [what], name_out
    mov dword ptr [resume], user_popf
    out 0xf4, al
user_popf:
    ; POPFD with IF set in the popped value: at CPL 3 > IOPL it keeps IF
    ; as it was, and says nothing (SDM Vol. 2B, POPF: "the IF flag is not
    ; changed"; no exception)
    pushfd
    pop eax
    mov ebx, eax
    or eax, 0x200
    push eax
    popfd
    pushfd
    pop eax
    mov esi, msg_popf
    call puts
    shr ebx, 9
    and ebx, 1
    mov eax, ebx
    mov ecx, 1
    call puthex
    mov esi, msg_arrow
    call puts
    pushfd
    pop eax
    shr eax, 9
    and eax, 1
    mov ecx, 1
    call puthex
    mov esi, msg_nofault
    call puts
    ; SMSW: the low 16 bits of CR0, readable in ring 3 (without UMIP)
    smsw eax
    mov esi, msg_smsw
    call puts
    mov ecx, 4
    call puthex
    mov esi, msg_nofault
    call puts
    ; SGDT: where the kernel keeps its GDT, readable in ring 3 (without UMIP)
    sgdt [gdtr]
    mov esi, msg_sgdt
    call puts
    mov eax, [gdtr + 2]
    mov ecx, 8
    call puthex
    mov esi, msg_nofault
    call puts
    mov eax, 0
    int 0x80                   ; the system call: exit
    jmp user

; -- ring 0 -----------------------------------------------------------------
; #GP: print the error code and which instruction, resume after it
gp_handler:
    pushad
    mov esi, msg_gp
    call puts
    mov eax, [esp + 0x20]      ; the error code
    mov ecx, 4
    call puthex
    mov esi, msg_on
    call puts
    mov esi, [what]
    call puts
    mov esi, msg_at
    call puts
    mov eax, [esp + 0x24]      ; EIP of the faulting instruction
    mov ecx, 8
    call puthex
    mov esi, msg_nl
    call puts
    mov eax, [resume]
    mov [esp + 0x24], eax
    popad
    add esp, 4                 ; drop the error code
    iretd

; INT 0x80: the only system call, exit
syscall:
    mov esi, msg_exit
    call puts
    mov al, 0
    out 0xf4, al
    hlt

what:   dd 0
resume: dd 0
gdtr:   dw 0
        dd 0

idt:
    .fill 8 * 0xd, 1, 0
    dw gp_handler, 0x08, 0x8e00, 0     ; 13: #GP, interrupt gate, DPL 0
    .fill 8 * (0x80 - 0xe), 1, 0
    dw syscall, 0x08, 0xee00, 0        ; 0x80: interrupt gate, DPL 3
idt_desc:
    dw 0x81 * 8 - 1
    dd idt

name_cli: .asciz "cli"
name_hlt: .asciz "hlt"
name_cr0: .asciz "mov eax, cr0"
name_out: .asciz "out 0xf4, al"
msg_kernel:  .asciz "ring 0: protected mode; iretd to ring 3\n"
msg_gp:      .asciz "#GP("
msg_on:      .asciz ") on "
msg_at:      .asciz " at "
msg_nl:      .asciz "\n"
msg_popf:    .asciz "popfd with IF=1: IF "
msg_arrow:   .asciz " -> "
msg_smsw:    .asciz "smsw: CR0 low word "
msg_sgdt:    .asciz "sgdt: kernel GDT at "
msg_nofault: .asciz ", no fault\n"
msg_exit:    .asciz "ring 0: exit\n"

; the TSS: the kernel stack for ring 3's interrupts, and the I/O bitmap
tss:
    dd 0                       ; previous task link
    dd 0x90000                 ; ESP0
    dd 0x10                    ; SS0
    .fill 0x66 - 0xc, 1, 0
    dw 0x68                    ; the I/O bitmap starts right after the TSS
    .fill 0x3f8 / 8, 1, 0xff   ; ports 0x000-0x3f7: denied
    db 0xfe                    ; port 0x3f8 allowed, 0x3f9-0x3ff denied
    .fill 0x2000 - 0x3f8 / 8 - 1, 1, 0xff   ; the rest: denied
    db 0xff                    ; the byte after the bitmap
