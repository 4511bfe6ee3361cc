; Lab 7, exercise 1, wrong: one byte an interrupt, and no end of interrupt
; to the PIC, so IRQ 4 is never delivered again.
; rx.S -- the UART's receive interrupt (lab 7, exercise 1).
;
; A terminal driver does not poll: the 16550 raises IRQ 4 when a byte has
; arrived (IER bit 0, "received data available"), the 8259 passes it on as
; vector 0x0C, and the CPU sleeps in HLT in between.  The main loop below
; is done: it sets up the PIC, the IVT and the UART, then halts until the
; handler sets `done`.
;
; (The answer key.)  rx_handler:  While the LSR (port 0x3FD) says a byte is
; ready (bit 0, DR), read it from the RBR (port 0x3F8) and echo it upper
; case; at a newline (10) echo it too and set `done` to 1.  Then send the
; PIC its end of interrupt (OCW2 0x20 to port 0x20) and return with IRET.
; Keep every register you use.

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov word ptr [0x0c * 4], rx_handler    ; IVT entry 0x0C: IRQ 4
    mov word ptr [0x0c * 4 + 2], 0
    mov al, 0x11               ; the 8259 pair, as in ticks.S
    out 0x20, al
    out 0xa0, al
    mov al, 0x08
    out 0x21, al
    mov al, 0x70
    out 0xa1, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x02
    out 0xa1, al
    mov al, 0x01
    out 0x21, al
    out 0xa1, al
    mov al, 0xef               ; only IRQ 4 (COM1)
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
    mov dx, 0x3f9
    mov al, 0x01               ; IER: interrupt when a byte has arrived
    out dx, al
    sti
wait:
    hlt
    cmp byte ptr [done], 0
    je wait
    cli
    mov al, 0
    out 0xf4, al

; IRQ 4: echo what has arrived, upper case; a newline ends the line
rx_handler:
    push ax
    push dx
    mov dx, 0x3f8
    in al, dx                  ; RBR: one byte an interrupt
    cmp al, 'a'
    jb rx_echo
    cmp al, 'z'
    ja rx_echo
    sub al, 0x20
rx_echo:
    out dx, al
    cmp al, 10
    jne rx_done
    mov byte ptr [done], 1
rx_done:
    pop dx
    pop ax
    iret

done: db 0
