; emulate.S -- trap and emulate (lab 4, exercise 1).
;
; The "guest kernel" below runs in ring 3, as a guest kernel ran under the
; first x86 VMMs (ring deprivileging).  It believes it is in ring 0: it
; turns interrupts off and on with CLI/STI and idles with HLT.  Each of them
; faults (#GP: CPL 3 > IOPL 0), and the handler in ring 0 -- the VMM -- must
; *emulate* it on the guest's virtual IF (vif) and resume after it.
;
; Your task: write gp_handler.  It finds the faulting instruction at the
; EIP the CPU pushed, and
;   CLI (0xFA): vif = 0;  STI (0xFB): vif = 1;  then resume after it;
;   HLT (0xF4): print "hlt emulated with vIF=" and vif, a newline, and end
;               the run through isa-debug-exit with 0 (the guest is idle);
;   anything else: print "#GP: cannot emulate", a newline, and end the run
;               with 13 -- never skip an instruction you do not emulate.
; The guest kernel reads vif with a system call (INT 0x80, EAX = 1).
;
; BL at the start picks the guest: 0 the CLI/STI/HLT one, 1 one that reads
; CR0 (which this VMM does not emulate).
;
; To print, call puts (the NUL-terminated string at ESI) and puthex (the
; low ECX hex digits of EAX), from serial32.inc (emu/guests/lib): they keep
; every register but ESI (puts) and the flags.  The segments are flat (base
; 0) in ring 0 and in ring 3, so the handler can use the guest's EIP and
; the labels as they are.

.include "ring3_32.inc"

kernel:
    mov eax, guest
    cmp bl, 1
    jne go
    mov eax, guest_cr0
go:
    jmp enter_ring3

; -- the guest kernel, in ring 3 --------------------------------------------
guest:
    cli
    mov eax, 1
    int 0x80                   ; prints vIF=0
    sti
    mov eax, 1
    int 0x80                   ; prints vIF=1
    cli
    hlt
    jmp guest

guest_cr0:
    mov eax, cr0
    mov eax, 1
    int 0x80
    hlt

; -- the VMM, in ring 0 -----------------------------------------------------
; #GP: emulate the faulting instruction (your code goes here)
gp_handler:
    mov esi, msg_cannot
    call puts
    mov al, 13
    out 0xf4, al
    hlt

; INT 0x80, EAX = 1: print "vIF=" and vif
syscall:
    pushad
    mov esi, msg_vif
    call puts
    mov eax, [vif]
    mov ecx, 1
    call puthex
    mov esi, msg_nl
    call puts
    popad
    iretd

vif: dd 1                      ; the guest's virtual IF

idt:
    .fill 8 * 0xd, 1, 0
    dw gp_handler, 0x08, 0x8e00, 0     ; 13: #GP, interrupt gate, DPL 0
    .fill 8 * (0x80 - 0xe), 1, 0
    dw syscall, 0x08, 0xee00, 0        ; 0x80: interrupt gate, DPL 3
idt_desc:
    dw 0x81 * 8 - 1
    dd idt

msg_vif:    .asciz "vIF="
msg_hlt:    .asciz "hlt emulated with vIF="
msg_cannot: .asciz "#GP: cannot emulate\n"
msg_nl:     .asciz "\n"

; the TSS: the kernel stack, and an I/O bitmap that opens COM1's THR only
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
