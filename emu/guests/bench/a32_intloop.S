@ bench (A32, the virt board): the integer loop of emu/guests/intloop.S --
@ ADD, EOR, ADD #1 and SUBS/BNE on 32-bit registers, five instructions a
@ step -- run for SCALE passes of r2 = 40000 down to 1, r0 and r1 carried
@ from pass to pass: r0 += r2, r1 = (r1 xor r0) + 1 (mod 2**32); prints r1.
.set SCALE, 50                  @ passes of 40,000 steps
        .include "a32_entry.inc"
        mov     r0, #0
        mov     r1, #0
        ldr     r3, =SCALE
pass:
        ldr     r2, =40000
again:
        add     r0, r0, r2
        eor     r1, r1, r0
        add     r1, r1, #1
        subs    r2, r2, #1
        bne     again
        subs    r3, r3, #1
        bne     pass
        mov     r0, r1
        b       a32_done

        .include "a32_out.inc"
