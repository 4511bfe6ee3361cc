; Page tables outside RAM: long mode is switched on with CR3 = 0x80000000,
; where nothing is mapped.  The walk reads all ones there, as a data read
; does, so the PML4 entry has every reserved bit (51:MAXPHYADDR) set: #PF
; with RSVD (SDM Vol. 3A §4.5.4, Figure 4-11 and §4.7); its delivery
; reads the IDT through the same tables and faults again: #DF, then a
; triple fault -- the machine shuts down (Vol. 3A §6.15 "Interrupt 8").
; tests/differential/test_unassigned_memory.py runs it on every engine.
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    lgdt [gdt_desc]
    mov eax, cr4
    or eax, 0x20               ; PAE
    mov cr4, eax
    mov eax, 0x80000000        ; above RAM: unassigned
    mov cr3, eax
    mov ecx, 0xc0000080        ; EFER
    rdmsr
    or eax, 0x100              ; LME
    wrmsr
    mov eax, cr0
    or eax, 0x80000001         ; PG, PE: long mode is active
    mov cr0, eax
    jmp far 0x08:lm64
.code64
lm64:
    mov al, 1
    out 0xf4, al
    hlt

gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00af9b00      ; 0x08 code64, ring 0
gdt_desc:
    dw 2 * 8 - 1
    dd gdt
