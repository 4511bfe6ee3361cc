; ud_loop.S -- an invalid-opcode storm: UD2 in a loop, each #UD (vector 6,
; SDM Vol. 3A §6.15) handled by a real-mode handler in another code
; segment that steps the return address over the two-byte UD2 and
; returns.  Around each UD2 the loop moves its count through ES, which
; delivery must leave alone.  COUNT faults, then the handler's count
; (BX) and the sum of the counts read back from ES (SI) go to the debug
; console and the guest exits.

COUNT = 2000

    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov word ptr [6 * 4], ud_handler - 0x7c00   ; the handler runs with CS = 0x07C0
    mov word ptr [6 * 4 + 2], 0x07c0
    xor bx, bx
    xor si, si
    mov cx, COUNT
again:
    mov es, cx
    ud2
    mov ax, es
    add si, ax
    loop again
    mov ax, bx
    out 0xe9, al
    mov al, ah
    out 0xe9, al
    mov ax, si
    out 0xe9, al
    mov al, ah
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
