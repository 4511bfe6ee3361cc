@ loops: never counts n down, so the loop runs for ever once n > 0
    .global sum
sum:
    mov r2, #0
next:
    cmp r1, #0
    beq done
    ldr r3, [r0]
    b next
done:
    mov r0, r2
    bx lr
