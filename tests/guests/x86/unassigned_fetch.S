; Code outside RAM: a jump to 0x40000000 in 32-bit protected mode (flat
; segments, no paging).  Nothing is mapped there, so the fetch reads all
; ones, as a data read does: FF FF is FF /7, an undefined encoding, #UD
; (SDM Vol. 2A "FF" opcode map; Vol. 3A §6.15 "Interrupt 6").  Each
; handler prints "vector at EIP" on COM1 and ends the run through
; isa-debug-exit with the vector number.  tests/differential/
; test_unassigned_memory.py runs it on every engine and compares.
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
    mov ss, ax
    mov esp, 0x90000
    mov eax, 0x40000000
    jmp eax

ud_handler:
    mov bl, 6
    jmp report
gp_handler:
    pop eax                    ; the error code
    mov bl, 13
    jmp report
df_handler:
    pop eax
    mov bl, 8
report:
    mov eax, ebx
    and eax, 0xff
    mov ecx, 2
    call puthex
    mov esi, msg_at
    call puts
    mov eax, [esp]             ; the faulting EIP
    mov ecx, 8
    call puthex
    mov esi, msg_nl
    call puts
    mov al, bl
    out 0xf4, al
    hlt

.include "serial32.inc"                ; puts, puthex (emu/guests/lib)

gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00cf9b00      ; 0x08 code32, ring 0, flat
    dd 0x0000ffff, 0x00cf9300      ; 0x10 data32, ring 0, flat
gdt_desc:
    dw 3 * 8 - 1
    dd gdt

idt:
    .fill 8 * 6, 1, 0
    dw ud_handler, 0x08, 0x8e00, 0     ; 6: #UD
    .fill 8 * 1, 1, 0
    dw df_handler, 0x08, 0x8e00, 0     ; 8: #DF
    .fill 8 * 4, 1, 0
    dw gp_handler, 0x08, 0x8e00, 0     ; 13: #GP
idt_desc:
    dw 14 * 8 - 1
    dd idt

msg_at: .asciz " at "
msg_nl: .asciz "\n"
