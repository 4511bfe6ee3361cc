@ bench (A32, the virt board): a 32-bit linear congruential generator,
@ x = x * 1103515245 + 12345 (mod 2**32), from x = 1, done on 16-bit
@ halves (three MULs, an ADDS/ADC pair a step, a32_lcg.inc); prints
@ the 32-bit sum of the first SCALE * 1000 values, itself kept as two
@ 16-bit halves added with ADDS/ADC.  14 instructions a step.
.set SCALE, 750                 @ thousands of steps
        .include "a32_lcg.inc"
        .include "a32_entry.inc"
        lcg_start                       @ x = 1 (r4, r5), the constants (r8-r10)
        mov     r6, #0                  @ the sum's low half, in bits 31:16
        mov     r7, #0                  @ the sum's high half (bits 15:0 count)
        ldr     r2, =SCALE
outer:
        mov     r3, #1000
step:
        lcg_step
        adds    r6, r6, r0              @ sum_lo += x_lo: C = its carry
        adc     r7, r7, r5              @ sum_hi += x_hi + C
        subs    r3, r3, #1
        bne     step
        subs    r2, r2, #1
        bne     outer
        mov     r0, r6, lsr #16
        orr     r0, r0, r7, lsl #16
        b       a32_done

        .include "a32_out.inc"
