; fifo.S -- the answer key of lab 5, exercise 2: the 16550's transmit FIFO
; filled 16 bytes at a time, LSR polled once per 16 bytes.

    mov dx, 0x3fa
    mov al, 0x07               ; FCR: enable the FIFOs, clear both
    out dx, al
    mov si, msg
chunk:
    mov dx, 0x3fd
wait:
    in al, dx                  ; LSR
    test al, 0x20              ; THRE: the FIFO is empty
    jz wait
    mov dx, 0x3f8
    mov cx, 16
fill:
    lodsb
    test al, al
    jz done
    out dx, al                 ; THR
    loop fill
    jmp chunk
done:
    mov al, 0
    out 0xf4, al

msg: .asciz "sixteen bytes a poll, not one!!\n"
