@ sum(const int *a, int n) -> r0, AAPCS
    .global sum
sum:
    mov r2, #0              @ the running total
next:
    subs r1, r1, #1         @ one element fewer to go
    blt done
    ldr r3, [r0], #4        @ the next element; a moves on
    add r2, r2, r3
    b next
done:
    mov r0, r2
    bx lr
