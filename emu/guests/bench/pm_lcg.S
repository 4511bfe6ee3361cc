; bench (32-bit protected mode): the LCG of rm_lcg.S,
; x = x * 1103515245 + 12345 (mod 2**32), from x = 1, still with 16-bit
; MUL and ADD/ADC pairs, in 32-bit code (flat segments, ECX counts);
; prints the 32-bit sum of the first SCALE * 1000 values.
.include "flat32.inc"
.set SCALE, 700                 ; thousands of steps
main32:
    mov si, 1                   ; x, low half
    xor edi, edi                ; x, high half
    xor ebx, ebx                ; the sum, low half
    xor ebp, ebp                ; the sum, high half
    mov ecx, SCALE
outer:
    push ecx
    mov ecx, 1000
step:
.include "lcg_step.inc"
    add bx, ax
    adc bp, dx
    loop step
    pop ecx
    loop outer
    shl ebp, 16
    movzx eax, bx
    or eax, ebp
    jmp pm_done

.include "pm_out.inc"

a_lo:
    dw 0x4e6d
a_hi:
    dw 0x41c6
