@ bench (A32, the virt board): naive recursive Fibonacci, fib(SCALE), by
@ BL; every call that recurses pushes LR and a callee-saved register (r4)
@ and returns by popping them; prints fib(SCALE).
.set SCALE, 29                  @ n
        .include "a32_entry.inc"
        mov     r0, #SCALE
        bl      fib
        mov     r0, r1
        b       a32_done

@ fib(r0) -> r1; keeps r0 and r4
fib:
        cmp     r0, #2
        movlo   r1, r0
        bxlo    lr
        push    {r4, lr}
        sub     r0, r0, #1
        bl      fib                     @ fib(n - 1)
        mov     r4, r1
        sub     r0, r0, #1
        bl      fib                     @ fib(n - 2)
        add     r1, r1, r4
        add     r0, r0, #2
        pop     {r4, pc}

        .include "a32_out.inc"
