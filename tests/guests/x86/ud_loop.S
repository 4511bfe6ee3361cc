; ud_loop.S -- an invalid-opcode storm: UD2 in a loop, each #UD (vector 6,
; SDM Vol. 3A §6.15) handled by a real-mode handler that steps the return
; address over the two-byte UD2 and returns.  COUNT faults, then the
; handler's count goes to the debug console and the guest exits.

COUNT = 2000

    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov word ptr [6 * 4], ud_handler
    mov word ptr [6 * 4 + 2], 0
    xor bx, bx
    mov cx, COUNT
again:
    ud2
    loop again
    mov al, bl
    out 0xe9, al
    mov al, bh
    out 0xe9, al
    mov al, 0
    out 0xf4, al
    hlt

ud_handler:
    inc bx
    push bp
    mov bp, sp
    add word ptr [bp + 2], 2
    pop bp
    iret
