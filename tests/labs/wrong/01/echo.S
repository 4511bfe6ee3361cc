; Lab 1, exercise 2, wrong: the newline is counted as a character.
; Lab 1, exercise 2 (answer key): echo a line from COM1 in capitals; the
; exit status is the number of characters before the newline.
    xor bx, bx              ; characters read
next:
    mov dx, 0x3fd           ; LSR
wait:
    in al, dx               ; one IN = one exit, every time round
    test al, 1              ; DR: a byte has arrived
    jz wait
    mov dx, 0x3f8
    in al, dx               ; RBR: take it
    inc bx
    cmp al, 10
    je done
    cmp al, 'a'
    jb send
    cmp al, 'z'
    ja send
    sub al, 0x20            ; a-z -> A-Z
send:
    out dx, al              ; THR
    jmp next
done:
    out dx, al              ; the newline too
    mov al, bl
    out 0xf4, al
