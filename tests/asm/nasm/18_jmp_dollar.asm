; keystone: yes
org 0x7c00
    cli
    jmp $
    jmp short $
    jmp $+2
    jmp $-2
