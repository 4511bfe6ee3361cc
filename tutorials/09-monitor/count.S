; count.S: count in CX forever, printing '.' on COM1 every 4096 steps
start:
    mov dx, 0x3f8
    xor cx, cx
again:
    inc cx
    test cx, 0x0fff
    jnz again
    mov al, '.'
    out dx, al
    jmp again
