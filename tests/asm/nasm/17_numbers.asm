; keystone: yes
org 0x7c00
    mov al, 0FFh
    mov bl, 1010b
    mov cl, 17q
    mov dx, 0x3f8
    mov ax, 0b1100_0011
    mov si, 0d100
    mov di, 100
    mov bp, 0ah
    mov ax, 'AB'
    hlt
