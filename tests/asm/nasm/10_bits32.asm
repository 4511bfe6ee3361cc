; keystone: yes
bits 32
org 0x100000
    mov eax, 0x12345678
    mov ebx, [data]
    add ebx, eax
    push dword 5
    mov [data + 4], ebx
    ret
data dd 0, 0
