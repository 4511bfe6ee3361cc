; Lab 10: the program, on the x86 pc board.  Count from 1 to 3 over the
; 16550 UART (COM1), then end the run through isa-debug-exit.
    mov si, text
next:
    lodsb                  ; the next byte of the text, from DS:SI
    cmp al, 0
    je done
    mov bl, al
wait:
    mov dx, 0x3fd          ; LSR, the line status register
    in al, dx
    test al, 0x20          ; THRE: the transmit holding register is empty
    jz wait
    mov al, bl
    mov dx, 0x3f8          ; THR, the transmit holding register
    out dx, al
    jmp next
done:
    mov al, 0
    out 0xf4, al           ; isa-debug-exit: status (0 << 1) | 1 = 1
text:
    db "counting: 1 2 3", 10, 0
