@ unbalanced: pushes r4 to save it, then forgets to pop it: sp comes back
@ 4 bytes below where it was at the call
    .global sum
sum:
    push {r4}
    mov r2, #0
next:
    subs r1, r1, #1
    blt done
    ldr r3, [r0], #4
    add r2, r2, r3
    b next
done:
    mov r0, r2
    bx lr
