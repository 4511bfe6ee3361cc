; keystone: yes
org 0x7c00
%include "serial.inc"
start:
    mov al, 'X'
    call putc
    hlt
