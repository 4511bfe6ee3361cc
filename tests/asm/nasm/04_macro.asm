; keystone: refused
%macro putc 1
    mov al, %1
    out dx, al
%endmacro
org 0x7c00
    mov dx, 0x3f8
    putc 'O'
    putc 'K'
    hlt
