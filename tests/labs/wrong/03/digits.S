; Lab 3, exercise 1, wrong: prints five bytes whatever len holds, instead of finding what wrote len.
; Lab 3, exercise 1: this should print 0123 and a newline.  It does not.
; Copy it to your folder, find the bug with a watchpoint, fix it.
    mov di, buf
    mov al, '0'
fill:
    mov [di], al            ; store the next digit
    inc di
    inc al
    cmp al, '5'
    jne fill
    mov si, buf
    mov cl, 5           ; how many bytes to print
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
