@ bench: integer loop -- add, eor, add, subs/bne in a tight loop (40000 times)
@ Python: a = b = 0; for c in range(40000, 0, -1): a = (a + c) % 2**32; b = ((b ^ a) + 1) % 2**32
@ prints b as 8 hex digits
        .text
        .global _start
_start:
        ldr     sp, =0x40200000
        mov     r0, #0                  @ a
        mov     r1, #0                  @ b
        ldr     r2, =40000              @ c
again:
        add     r0, r0, r2
        eor     r1, r1, r0
        add     r1, r1, #1
        subs    r2, r2, #1
        bne     again
        mov     r0, r1
        b       hex_exit

        .include "lib.S"
