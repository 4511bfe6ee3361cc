; keystone: refused
%define DEBUG 1
org 0x7c00
%ifdef DEBUG
    mov al, 'D'
%else
    mov al, 'R'
%endif
    hlt
