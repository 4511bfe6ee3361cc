; mmio.S -- a load and a store outside RAM (lab 7): MMIO exits.
;
; Run with -m 64K: RAM ends at 0x10000, so 0x20000 is a physical address
; no RAM backs.  The CPU cannot complete such an access alone: the engine
; hands it to the Machine as an MMIO exit, which the memory map sends to a
; device -- none here, so the read gets all ones and the write is dropped,
; as on QEMU's unassigned memory.

    mov ax, 0x2000
    mov es, ax
    mov al, [es:0]             ; MMIO read at 0x20000
    mov byte ptr [es:0], 0x42  ; MMIO write at 0x20000
    mov dx, 0x3f8
    out dx, al                 ; 0xff: what unassigned memory reads as
    mov al, 0
    out 0xf4, al
