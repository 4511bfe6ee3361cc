; Lab 1, exercise 1 (answer key): hello.S on the debug console (port 0xE9).
    mov si, msg
next:
    lodsb
    test al, al
    jz done
    out 0xe9, al           ; the debug console: no status register to poll
    jmp next
done:
    mov al, 0
    out 0xf4, al
msg: .asciz "hello, exits\n"
