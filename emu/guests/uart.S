; bench: UART-heavy output -- 200 lines, each byte sent only when LSR.THRE is set
    xor ax, ax
    mov ds, ax
    mov bp, 200
line:
    mov si, text
next:
    lodsb
    test al, al
    jz eol
    mov ah, al
    mov dx, 0x3fd
wait:
    in al, dx
    test al, 0x20
    jz wait
    mov al, ah
    mov dx, 0x3f8
    out dx, al
    jmp next
eol:
    dec bp
    jnz line
    mov al, 0
    out 0xf4, al
text: .asciz "The quick brown fox jumps over the lazy dog.\n"
