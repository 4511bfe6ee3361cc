; keystone: yes
org 0x7c00
    mov si, msg
    call print
    jmp $
print:
    mov ah, 0x0e
.next:
    lodsb
    cmp al, 0
    je .ret
    int 0x10
    jmp .next
.ret:
    ret
msg db "Hi",0
