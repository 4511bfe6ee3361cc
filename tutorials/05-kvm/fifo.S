; fifo.S -- a UART driver that polls before every byte (lab 5, exercise 2).
;
; Each IN from the line status register (LSR, port 0x3FD) and each OUT to
; the transmitter (THR, port 0x3F8) is a VM exit: this driver costs two
; exits a byte.  The 16550's transmitter has a 16-byte FIFO: once it is
; enabled (FCR, port 0x3FA: bit 0 enables the FIFOs, bits 1-2 clear them)
; and LSR.THRE (bit 5) says it is empty, 16 bytes may be written without
; looking again (16550 data sheet, "FIFO polled mode").
;
; Your task: enable the FIFOs once, then wait for THRE once per 16 bytes.
; The message is 32 bytes long.

    mov dx, 0x3f8
    mov si, msg
next:
    lodsb
    test al, al
    jz done
    push ax
    mov dx, 0x3fd
wait:
    in al, dx                  ; LSR
    test al, 0x20              ; THRE: the transmitter can take a byte
    jz wait
    pop ax
    mov dx, 0x3f8
    out dx, al                 ; THR
    jmp next
done:
    mov al, 0
    out 0xf4, al

msg: .asciz "sixteen bytes a poll, not one!!\n"
