; keystone: yes
org 0x7c00
    mov ax, 0xb800
    mov es, ax
    xor bx, bx
    mov byte [es:bx], 'A'
    mov byte [es:bx+1], 0x07
    mov al, [es:di]
    mov [cs:var], al
    mov ax, [ds:si+2]
    hlt
var db 0
