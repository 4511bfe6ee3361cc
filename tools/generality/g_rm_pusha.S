; measurement guest (real mode): hand-written routines that save every
; register with PUSHA/POPA, word arithmetic through BX/SI/DI addressing,
; a PUSH/POP DS:ES pair per call; prints a checksum.
.set SCALE, 20000
.include "rm_entry.inc"
    xor si, si
    mov bp, SCALE
    mov word ptr [0x700], 0
    mov word ptr [0x702], 0
outer:
    mov ax, bp
    call accumulate
    dec bp
    jnz outer
    mov ax, [0x700]
    mov dx, [0x702]
    jmp rm_done

; adds AX * 3 + 1 to the 32-bit total at 0:0x700, keeps every register
accumulate:
    pusha
    push ds
    push es
    mov bx, 0x700
    mov cx, ax
    shl ax, 1
    add ax, cx
    inc ax
    add [bx], ax
    adc word ptr [bx + 2], 0
    pop es
    pop ds
    popa
    ret
.include "rm_out.inc"
