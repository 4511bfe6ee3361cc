; keystone: yes
org 0x7c00
    mov di, buffer
    mov cx, 16
    rep stosb
    hlt
buffer: resb 16
words:  resw 2
dwords: resd 1
