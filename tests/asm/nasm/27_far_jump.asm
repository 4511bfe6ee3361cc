; keystone: yes
org 0x7c00
    jmp 0x0000:start
start:
    jmp far [vector]
    call far [vector]
    retf
vector dw start, 0
