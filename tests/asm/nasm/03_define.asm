; keystone: yes
%define COM1 0x3f8
%define EXIT_PORT 0xf4
org 0x7c00
    mov dx, COM1
    mov al, 'A'
    out dx, al
    mov al, 0
    out EXIT_PORT, al
