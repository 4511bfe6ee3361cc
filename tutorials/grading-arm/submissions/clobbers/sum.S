@ clobbers: keeps the total in r4, which the AAPCS says a function preserves
    .global sum
sum:
    mov r4, #0
next:
    subs r1, r1, #1
    blt done
    ldr r3, [r0], #4
    add r4, r4, r3
    b next
done:
    mov r0, r4
    bx lr
