; bench (real mode): polled UART output.  Each line is the LCG of
; rm_lcg.S (x = x * 1103515245 + 12345, from x = 1) 64 steps on, in
; decimal, each byte after polling the line status register (0x3FD, THRE)
; of COM1, until SCALE KiB are out; then the Fletcher-16 pair of what was
; printed, s2:s1 (s1 += byte, s2 += s1, each mod 2**16), in hex.  The
; 32-bit division by 10 is two 16-bit DIVs.
.set SCALE, 100                 ; KiB printed
.set LIMIT, SCALE * 1024
.include "rm_entry.inc"
line:
    mov cx, 64
    mov si, [x_lo]
    mov di, [x_hi]
step:
.include "lcg_step.inc"
    loop step
    mov [x_lo], ax
    mov [x_hi], dx
    mov bx, 10
    xor cx, cx
digits:
    mov di, ax
    mov ax, dx
    xor dx, dx
    div bx                      ; high half / 10
    mov si, ax
    mov ax, di
    div bx                      ; (remainder : low half) / 10
    push dx
    inc cx
    mov dx, si
    mov di, ax
    or di, dx
    jnz digits
print:
    pop ax
    add al, 0x30
    call putc
    loop print
    mov al, 10
    call putc
    mov ax, [count_lo]
    mov dx, [count_hi]
    sub ax, LIMIT & 0xffff
    sbb dx, LIMIT >> 16
    jb line
    mov ax, [s1]
    mov dx, [s2]
    jmp rm_done

; putc: AL out on COM1 once the transmitter is empty; counted and summed
putc:
    push dx
    push ax
    mov dx, 0x3fd
poll:
    in al, dx
    test al, 0x20
    jz poll
    pop ax
    mov dx, 0x3f8
    out dx, al
    xor ah, ah
    add [s1], ax
    mov dx, [s1]
    add [s2], dx
    add word [count_lo], 1
    adc word [count_hi], 0
    pop dx
    ret

.include "rm_out.inc"

a_lo:
    dw 0x4e6d
a_hi:
    dw 0x41c6
x_lo:
    dw 1
x_hi:
    dw 0
s1:
    dw 0
s2:
    dw 0
count_lo:
    dw 0
count_hi:
    dw 0
