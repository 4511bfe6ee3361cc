; Lab 3, exercise 1 (answer key): the fill loop wrote a fifth digit over len.
    mov di, buf
    mov al, '0'
fill:
    mov [di], al            ; store the next digit
    inc di
    inc al
    cmp al, '4'            ; four digits: 0 to 3
    jne fill
    mov si, buf
    mov cl, [len]           ; how many bytes to print
print:
    lodsb
    out 0xe9, al
    dec cl
    jnz print
    mov al, 10
    out 0xe9, al
    mov al, 0
    out 0xf4, al

buf: .fill 4, 1, 0          ; room for four digits
len: .byte 4
