; exits with the right status, but prints it first
    mov al, bl
    out 0xe9, al
    out 0xf4, al
