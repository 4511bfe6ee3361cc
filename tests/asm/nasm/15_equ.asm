; keystone: yes
VIDEO equ 0xb800
COLS  equ 80
ROWS  equ 25
org 0x7c00
    mov ax, VIDEO
    mov es, ax
    mov cx, COLS*ROWS
    xor di, di
    mov ax, 0x0720
    rep stosw
    hlt
