; counter.S: count in memory, a dot on COM1 every 4096 steps, stop after 0x4000
start:
    mov dx, 0x3f8
again:
    inc word ptr [counter]
    test word ptr [counter], 0x0fff
    jnz again
    mov al, '.'
    out dx, al
    cmp word ptr [counter], 0x4000
    jne again
    mov al, 0
    out 0xf4, al
    hlt
counter:
    .word 0
