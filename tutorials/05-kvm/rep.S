; rep.S -- one instruction, many exits (lab 5, exercise 1).
;
; This guest prints its message with a loop of LODSB / OUT.  Your task:
; print it with a single string instruction instead -- REP OUTSB writes CX
; bytes from DS:SI to port DX (SDM Vol. 2B, OUTS) -- and count the exits.

    mov dx, 0x3f8
    mov si, msg
next:
    lodsb
    test al, al
    jz done
    out dx, al
    jmp next
done:
    mov al, 0
    out 0xf4, al

msg: .asciz "one instruction, many exits\n"
