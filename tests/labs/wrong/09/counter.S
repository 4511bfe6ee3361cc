; Lab 9, exercise 1, wrong: a zero short, the run ends after 0x400 increments, not 0x4000.
; counter.S: count in memory, a dot on COM1 every 4096 steps, stop after 0x4000
start:
    mov dx, 0x3f8
again:
    inc word ptr [counter]
    cmp word ptr [counter], 0x400
    je finish
    test word ptr [counter], 0x0fff
    jnz again
    mov al, '.'
    out dx, al
    jmp again
finish:
    mov al, 0
    out 0xf4, al
    hlt
counter:
    .word 0
