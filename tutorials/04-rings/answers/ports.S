; ports.S -- the TSS's I/O permission bitmap (lab 4, exercise 2).
;
; Ring 3 prints through COM1 (port 0x3F8, with puts) and through the debug
; console (port 0xE9), then tries to end the run itself through
; isa-debug-exit (port 0xF4).  At CPL 3 > IOPL 0, the CPU lets an IN or OUT
; through only where the TSS's I/O permission bitmap has a 0 bit for each
; port it touches (SDM Vol. 1 §19.5.2): bit (port % 8) of byte (port / 8).
;
; (The answer key: the bitmap opens 0xE9 and 0x3F8.)  Task: edit the bitmap at the end of this file so that ring 3 may use
; exactly ports 0x3F8 and 0xE9 -- nothing else.  Port 0xF4 must stay
; denied: the #GP handler then reports it and the kernel ends the run.
; (Setting IOPL to 3 would open every port: that is not the answer.)

.include "ring3_32.inc"

kernel:
    mov eax, user
    jmp enter_ring3

; -- ring 3 -----------------------------------------------------------------
user:
    mov esi, msg_hello
    call puts                  ; OUT to 0x3F8
    mov esi, msg_e9
e9_next:
    lodsb
    test al, al
    jz e9_done
    out 0xe9, al               ; the debug console
    jmp e9_next
e9_done:
    mov al, 0
    out 0xf4, al               ; must fault
    jmp e9_done

; -- ring 0 -----------------------------------------------------------------
; #GP: say where, then end the run (status 0 if it was the OUT to 0xF4)
gp_handler:
    mov ebx, [esp + 4]         ; EIP of the faulting instruction
    mov ax, 0x10
    mov ds, ax
    mov esi, msg_gp
    call puts
    mov eax, ebx
    mov ecx, 8
    call puthex
    mov esi, msg_nl
    call puts
    mov al, 13
    cmp ebx, e9_done + 2
    jne gp_exit
    mov al, 0
gp_exit:
    out 0xf4, al
    hlt

msg_hello: .asciz "ring 3 on COM1\n"
msg_e9:    .asciz "ring 3 on the debug console\n"
msg_gp:    .asciz "#GP at "
msg_nl:    .asciz "\n"

idt:
    .fill 8 * 0xd, 1, 0
    dw gp_handler, 0x08, 0x8e00, 0     ; 13: #GP, interrupt gate, DPL 0
idt_desc:
    dw 0xe * 8 - 1
    dd idt

; the TSS: the kernel stack, and the I/O permission bitmap
tss:
    dd 0                       ; previous task link
    dd 0x90000                 ; ESP0
    dd 0x10                    ; SS0
    .fill 0x66 - 0xc, 1, 0
    dw 0x68                    ; the I/O bitmap starts right after the TSS
    .fill 0xe9 / 8, 1, 0xff    ; ports 0x000-0x0e7: denied
    db 0xfd                    ; byte 0x1d: port 0xe9 (bit 1) allowed
    .fill 0x3f8 / 8 - 0xe9 / 8 - 1, 1, 0xff
    db 0xfe                    ; byte 0x7f: port 0x3f8 (bit 0) allowed
    .fill 0x2000 - 0x3f8 / 8 - 1, 1, 0xff   ; the rest: denied
    db 0xff                    ; the byte after the bitmap
