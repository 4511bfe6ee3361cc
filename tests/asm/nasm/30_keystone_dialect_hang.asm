; keystone: yes
[bits 16]
[org 0x7c00]
    mov ax, 1
