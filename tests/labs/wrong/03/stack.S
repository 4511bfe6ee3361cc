; Lab 3, exercise 2, wrong: one more byte of stack; putc needs 10.
; Lab 3, exercise 2: this should print 01234 and a newline.  It does not.
; Copy it to your folder, find out what changes count, fix it.
    mov sp, stack_top       ; a stack of our own
    mov byte ptr [count], 0
again:
    mov al, [count]
    add al, 0x30
    call putc
    inc byte ptr [count]
    cmp byte ptr [count], 5
    jne again
    mov al, 10
    call putc
    mov al, 0
    out 0xf4, al

; putc(AL): print AL on the debug console, keeping every register
putc:
    push ax
    push bx
    push cx
    push dx
    out 0xe9, al
    pop dx
    pop cx
    pop bx
    pop ax
    ret

spare: .byte 0
count: .byte 0
stack: .fill 9, 1, 0
stack_top:
