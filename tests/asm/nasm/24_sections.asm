; keystone: refused
org 0x7c00
section .text
    mov si, msg
    hlt
section .data
msg db "data", 0
