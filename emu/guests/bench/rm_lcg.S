; bench (real mode): a 32-bit linear congruential generator,
; x = x * 1103515245 + 12345 (mod 2**32), from x = 1, done with 16-bit
; MUL and ADD/ADC pairs (three MULs a step); prints the 32-bit sum of the
; first SCALE * 1000 values.  About 15 instructions a step.
.set SCALE, 700                 ; thousands of steps
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov si, 1                   ; x, low half
    xor di, di                  ; x, high half
    xor bx, bx                  ; the sum, low half
    xor bp, bp                  ; the sum, high half
    mov cx, SCALE
outer:
    push cx
    mov cx, 1000
step:
    mov ax, di
    mul word [a_lo]             ; low(x_hi * a_lo)
    xchg ax, di
    mov ax, si
    mul word [a_hi]             ; low(x_lo * a_hi)
    add di, ax                  ; the product's high half, less the carry
    mov ax, si
    mul word [a_lo]             ; x_lo * a_lo (32 bits)
    add dx, di
    add ax, 12345
    adc dx, 0
    mov si, ax
    mov di, dx
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
