; keystone: yes
org 0x7c00
    jmp start
hello   db 'Hello', 0
world   db "World", 10, 0
mixed   db 'a', "bc", 0x64, 'e'
quote   db "it's", 0
start:
    mov si, hello
    hlt
