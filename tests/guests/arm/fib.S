@ bench: recursive calls -- naive Fibonacci fib(18) = 2584 through the stack,
@ printed in decimal
        .text
        .global _start
_start:
        ldr     sp, =0x40200000
        mov     r0, #18
        bl      fib
        bl      putdec
        mov     r0, #0
        b       exit

@ fib(r0) -> r0
fib:
        cmp     r0, #2
        bxlo    lr
        push    {r4, r5, lr}
        mov     r4, r0
        sub     r0, r4, #1
        bl      fib
        mov     r5, r0
        sub     r0, r4, #2
        bl      fib
        add     r0, r0, r5
        pop     {r4, r5, pc}

        .include "lib.S"
