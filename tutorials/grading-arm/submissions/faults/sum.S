@ faults: takes n for the address and a for the count, so its first load
@ reads address n (0 or 3 or 4), where the virt board has no memory
    .global sum
sum:
    mov r2, #0
next:
    subs r0, r0, #1
    blt done
    ldr r3, [r1], #4
    add r2, r2, r3
    b next
done:
    mov r0, r2
    bx lr
