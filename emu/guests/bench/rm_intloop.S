; bench (real mode): the integer loop of emu/guests/intloop.S -- ADD, XOR,
; INC and DEC/JNZ on 16-bit registers, five instructions a step -- run for
; SCALE passes of CX = 40000 down to 1, AX and BX carried from pass to
; pass: AX += CX, BX = (BX xor AX) + 1 (mod 2**16); prints BX.
.set SCALE, 50                  ; passes of 40,000 steps
.include "rm_entry.inc"
    xor ax, ax
    xor bx, bx
    mov bp, SCALE
pass:
    mov cx, 40000
again:
    add ax, cx
    xor bx, ax
    inc bx
    dec cx
    jnz again
    dec bp
    jnz pass
    mov ax, bx
    xor dx, dx
    jmp rm_done

.include "rm_out.inc"
