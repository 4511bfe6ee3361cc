@ syntax: r16 is not a register
    .global sum
sum:
    mov r2, #0
next:
    subs r1, r1, #1
    blt done
    ldr r3, [r0], #4
    add r2, r2, r16
    b next
done:
    mov r0, r2
    bx lr
