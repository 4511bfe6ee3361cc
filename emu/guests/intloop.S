; bench: integer loop -- add, xor, shift-free arithmetic in a tight loop
    xor ax, ax
    xor bx, bx
    mov cx, 40000
again:
    add ax, cx
    xor bx, ax
    inc bx
    dec cx
    jnz again
    mov dx, 0x3f8
    mov al, bl
    and al, 0x0f
    add al, 0x41
    out dx, al
    mov al, 10
    out dx, al
    mov al, 0
    out 0xf4, al
