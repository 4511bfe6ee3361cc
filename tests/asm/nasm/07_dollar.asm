; keystone: yes
org 0x7c00
msg db "Hi there"
msglen equ $ - msg
here:
    mov cx, msglen
    mov ax, $
    mov bx, $$
    jmp $
    dw $ - $$
