; keystone: yes
; no org: labels count from 0, as in nasm -f bin
    jmp 0x07c0:go
go:
    mov ax, cs
    mov ds, ax
    mov si, text
    hlt
text db "relative", 0
