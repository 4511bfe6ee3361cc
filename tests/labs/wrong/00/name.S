; Lab 0, exercise 1, wrong: the name line has no newline (10) at its end.
    mov si, msg
next:
    mov dx, 0x3fd          ; LSR, the line status register
wait:
    in al, dx
    test al, 0x20          ; THRE: the transmit holding register is empty
    jz wait
    lodsb                  ; AL = [DS:SI], SI += 1 (DS is 0 at reset)
    test al, al
    jz done
    mov dx, 0x3f8          ; THR
    out dx, al
    jmp next
done:
    mov al, 0
    out 0xf4, al           ; isa-debug-exit
msg: db "name: A. Student", 0
