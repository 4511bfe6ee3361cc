; Lab 2, exercise 2, wrong: an off-by-one, the loop stops before Z.
; Lab 2, exercise 2 (answer key): the alphabet on the debug console, from a loop.
    mov al, 'A'
next:
    out 0xe9, al
    inc al
    cmp al, 'Z'
    jne next
    mov al, 10
    out 0xe9, al
    mov al, 0
    out 0xf4, al
