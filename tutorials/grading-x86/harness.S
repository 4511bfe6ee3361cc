; harness.S -- the instructor's code around a strlen submission.
;
; Entered at 0000:7C00 in real mode.  Switches to 32-bit protected mode
; (SDM Vol. 3A §9.9.1) with flat 4 GiB code and data segments, an IDT of
; limit 0 (so any exception the submission raises is a triple fault the
; grader reports at the faulting instruction), ESP = 0x90000, and halts:
; the grader calls strlen from that state.
    cli
    xor ax, ax
    mov ds, ax
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
    hlt

gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00cf9b00      ; 0x08 code32, ring 0, flat
    dd 0x0000ffff, 0x00cf9300      ; 0x10 data32, ring 0, flat
gdt_desc:
    dw 3 * 8 - 1
    dd gdt
idt_desc:
    dw 0
    dd 0
