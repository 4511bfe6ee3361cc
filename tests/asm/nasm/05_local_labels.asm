; keystone: yes
org 0x7c00
strlen:
    xor cx, cx
.loop:
    lodsb
    test al, al
    jz .done
    inc cx
    jmp .loop
.done:
    ret
memset:
.loop:
    stosb
    loop .loop
    ret
