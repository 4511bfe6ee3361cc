; keystone: yes
org 0x7c00
top:
    jmp short over
    nop
over:
    jmp near top
    jz near top
    call near sub
    jmp top
sub:
    ret
