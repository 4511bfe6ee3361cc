; Lab 5, exercise 1, wrong: CX counts the NUL too.
; rep.S -- the answer key of lab 5, exercise 1: REP OUTSB.

    mov dx, 0x3f8
    mov si, msg
    mov cx, 29                 ; the message's length
    cld
    rep outsb
    mov al, 0
    out 0xf4, al

msg: .asciz "one instruction, many exits\n"
