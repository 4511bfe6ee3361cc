; bench: recursive calls -- naive Fibonacci fib(18) = 2584 through the stack
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    mov ax, 18
    call fib
    ; print AX in decimal
    mov bx, 10
    xor cx, cx
d1:
    xor dx, dx
    div bx
    push dx
    inc cx
    test ax, ax
    jnz d1
    mov dx, 0x3f8
d2:
    pop ax
    add al, 0x30
    out dx, al
    loop d2
    mov al, 10
    out dx, al
    mov al, 0
    out 0xf4, al

; fib(AX) -> AX, preserves BX
fib:
    cmp ax, 2
    jae recurse
    ret
recurse:
    push bx
    push ax
    dec ax
    call fib
    mov bx, ax
    pop ax
    sub ax, 2
    call fib
    add ax, bx
    pop bx
    ret
