; Lab 3: count from 0 to 4 on the UART, keeping the count in memory
    xor ax, ax
    mov ds, ax
    mov byte ptr [count], 0
again:
    mov al, [count]
    add al, 0x30            ; the digit
    call putc
    inc byte ptr [count]
    cmp byte ptr [count], 5
    jne again
    mov al, 10
    call putc
    mov al, 0
    out 0xf4, al

; putc(AL): wait until the UART can take a byte, then send it
putc:
    push dx
    push ax
    mov dx, 0x3fd
wait:
    in al, dx
    test al, 0x20
    jz wait
    pop ax
    mov dx, 0x3f8
    out dx, al
    pop dx
    ret

count: .byte 0
