@ wrong: adds the first element before looking at n (a do-while loop), so
@ the empty array sums to a[0]
    .global sum
sum:
    mov r2, #0
next:
    ldr r3, [r0], #4
    add r2, r2, r3
    subs r1, r1, #1
    bgt next
    mov r0, r2
    bx lr
