; keystone: yes
org 0x7c00
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    push word 0x1234
    push 5
    call add2
    add sp, 4
    hlt
add2:
    push bp
    mov bp, sp
    mov ax, [bp+4]
    add ax, [bp+6]
    pop bp
    ret
