; keystone: yes
; read a sector with int 13h to es:bx
org 0x7c00
    mov ax, 0x1000
    mov es, ax
    xor bx, bx
    mov ah, 0x02
    mov al, 1
    mov ch, 0
    mov cl, 2
    mov dh, 0
    int 0x13
    jc error
    jmp 0x1000:0x0000
error:
    jmp $
