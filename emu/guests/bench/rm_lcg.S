; bench (real mode): a 32-bit linear congruential generator,
; x = x * 1103515245 + 12345 (mod 2**32), from x = 1, done with 16-bit
; MUL and ADD/ADC pairs (three MULs a step); prints the 32-bit sum of the
; first SCALE * 1000 values.  About 15 instructions a step.
.set SCALE, 700                 ; thousands of steps
.include "rm_entry.inc"
    mov si, 1                   ; x, low half
    xor di, di                  ; x, high half
    xor bx, bx                  ; the sum, low half
    xor bp, bp                  ; the sum, high half
    mov cx, SCALE
outer:
    push cx
    mov cx, 1000
step:
.include "lcg_step.inc"
    add bx, ax
    adc bp, dx
    loop step
    pop cx
    loop outer
    mov ax, bx
    mov dx, bp
    jmp rm_done

.include "rm_out.inc"

a_lo:
    dw 0x4e6d
a_hi:
    dw 0x41c6
