@ bench: UART-heavy output -- 200 lines, each byte sent only when the PL011's
@ flag register says the transmit FIFO is not full
        .text
        .global _start
_start:
        ldr     sp, =0x40200000
        ldr     r12, =UART
        mov     r8, #200
line:
        adr     r4, text
next:
        ldrb    r5, [r4], #1
        cmp     r5, #0
        beq     eol
wait:
        ldr     r0, [r12, #UART_FR]
        tst     r0, #FR_TXFF
        bne     wait
        strb    r5, [r12]
        b       next
eol:
        subs    r8, r8, #1
        bne     line
        mov     r0, #0
        b       exit
text:
        .asciz  "The quick brown fox jumps over the lazy dog.\n"
        .align  2

        .include "lib.S"
