@ bench: sieve of Eratosthenes over 61440 (0xF000) numbers at 0x40100000;
@ prints the prime count as 4 hex digits
        .equ    N, 0xF000
        .text
        .global _start
_start:
        ldr     sp, =0x40200000
        ldr     r4, =0x40100000         @ one flag byte per number
        mov     r0, #1
        mov     r1, #0
fill:
        strb    r0, [r4, r1]
        add     r1, r1, #1
        cmp     r1, #N
        blo     fill
        mov     r0, #0
        strb    r0, [r4]
        strb    r0, [r4, #1]
        mov     r5, #2                  @ i
outer:
        mul     r6, r5, r5              @ j = i * i
        cmp     r6, #N
        bhs     count
        ldrb    r0, [r4, r5]
        cmp     r0, #0
        beq     next
        mov     r0, #0
mark:
        strb    r0, [r4, r6]
        add     r6, r6, r5
        cmp     r6, #N
        blo     mark
next:
        add     r5, r5, #1
        b       outer
count:
        mov     r0, #0
        mov     r1, #0
cloop:
        ldrb    r2, [r4, r1]
        add     r0, r0, r2
        add     r1, r1, #1
        cmp     r1, #N
        blo     cloop
        mov     r1, #4
        bl      puthex
        mov     r0, #0
        b       exit

        .include "lib.S"
