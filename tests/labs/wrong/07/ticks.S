; Lab 7, exercise 2, wrong: the EOI goes to the PIC's data port 0x21 (the mask), not its command port 0x20.
; ticks.S -- timer interrupts: the PIT, the 8259 PIC and the IVT (lab 7).
;
; The 8259 pair is initialised (ICW1-4: the master's vectors 0x08-0x0F) with
; only IRQ 0 unmasked, IVT entry 8 points at tick_handler, the PIT's counter
; 0 runs in mode 2 at 100 Hz, and the main loop halts until a tick comes:
; after each it prints "tick N", after the fifth it ends the run.
;
; Exercise 2: this guest prints "tick 1" and is never woken again.  Why?
; (Run it with -d int.)  Fix the handler.

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov word ptr [8 * 4], tick_handler     ; IVT entry 8: IRQ 0
    mov word ptr [8 * 4 + 2], 0
    ; the 8259 pair: ICW1 (edge, cascade, ICW4), ICW2 (vector base),
    ; ICW3 (the slave on IRQ 2), ICW4 (8086 mode); then the masks
    mov al, 0x11
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
    mov al, 0xfe               ; only IRQ 0 (the PIT)
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
    ; the PIT: counter 0, low then high byte, mode 2, divisor 11932 (100 Hz)
    mov al, 0x34
    out 0x43, al
    mov ax, 11932
    out 0x40, al
    mov al, ah
    out 0x40, al
    sti
wait:
    hlt                        ; until an interrupt
    mov ax, [ticks]
    cmp ax, [shown]
    je wait
    mov [shown], ax
    mov si, msg_tick
    call puts
    add al, '0'
    mov dx, 0x3f8
    out dx, al
    mov al, 10
    out dx, al
    cmp word ptr [ticks], 5
    jb wait
    cli
    mov al, 0
    out 0xf4, al

; IRQ 0: count the tick
tick_handler:
    push ax
    inc word ptr [ticks]
    mov al, 0x20               ; end of interrupt
    out 0x21, al
    pop ax
    iret

; puts: the NUL-terminated string at SI to COM1
puts:
    push ax
    push dx
    mov dx, 0x3f8
puts_next:
    lodsb
    test al, al
    jz puts_done
    out dx, al
    jmp puts_next
puts_done:
    pop dx
    pop ax
    ret

ticks:    dw 0
shown:    dw 0
msg_tick: .asciz "tick "
