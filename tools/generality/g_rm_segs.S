; measurement guest (real mode): segment-override loads (ES:, SS:), MOV
; to/from segment registers, PUSH/POP of segment registers, LDS/LES.
.set SCALE, 3000
.include "rm_entry.inc"
    ; a table of 64 words at 0x1000:0 and a far pointer to it at 0:0x600
    mov ax, 0x1000
    mov es, ax
    xor di, di
    mov cx, 64
    mov ax, 0x1234
fill:
    stosw
    add ax, 0x0101
    loop fill
    mov word ptr [0x600], 0
    mov word ptr [0x602], 0x1000
    xor si, si
    xor dx, dx
    mov bp, SCALE
outer:
    push ds
    push es
    mov ax, 0x1000
    mov ds, ax
    mov bx, 0
    mov cx, 16
sum:
    add si, [bx]                ; DS = 0x1000
    add si, es:[bx+2]
    adc dx, 0
    mov ax, ss:[0x600]
    add si, ax
    add bx, 4
    loop sum
    pop es
    pop ds
    les bx, [0x600]
    add si, es:[bx+6]
    lds bx, [0x600]
    add si, [bx+8]
    xor ax, ax
    mov ds, ax
    mov ax, es
    add dx, ax
    mov ax, ds
    mov es, ax
    mov ax, 0x1000
    mov es, ax
    dec bp
    jnz outer
    mov ax, si
    jmp rm_done
.include "rm_out.inc"
