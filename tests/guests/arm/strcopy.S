@ bench: memory copy, 64 rounds of 4 KiB from the program's start
@ (0x40010000) to 0x40100000 by LDM/STM (16 bytes a step) and to
@ 0x40101000 byte by byte; then both copies are compared with the source:
@ prints OK if they match
        .equ    SRC, 0x40010000
        .equ    DST_WORDS, 0x40100000
        .equ    DST_BYTES, 0x40101000
        .text
        .global _start
_start:
        ldr     sp, =0x40200000
        mov     r11, #64
round:
        ldr     r0, =SRC
        ldr     r1, =DST_WORDS
        mov     r2, #4096
words:
        ldmia   r0!, {r3-r6}
        stmia   r1!, {r3-r6}
        subs    r2, r2, #16
        bne     words
        ldr     r0, =SRC
        ldr     r1, =DST_BYTES
        mov     r2, #4096
bytes:
        ldrb    r3, [r0], #1
        strb    r3, [r1], #1
        subs    r2, r2, #1
        bne     bytes
        subs    r11, r11, #1
        bne     round
        ldr     r0, =SRC
        ldr     r1, =DST_WORDS
        ldr     r7, =DST_BYTES
        mov     r2, #4096
check:
        ldrb    r3, [r0], #1
        ldrb    r4, [r1], #1
        ldrb    r5, [r7], #1
        cmp     r3, r4
        cmpeq   r3, r5
        bne     bad
        subs    r2, r2, #1
        bne     check
        mov     r0, #'O'
        bl      putc
        mov     r0, #'K'
        bl      putc
bad:
        mov     r0, #'\n'
        bl      putc
        mov     r0, #0
        b       exit

        .include "lib.S"
