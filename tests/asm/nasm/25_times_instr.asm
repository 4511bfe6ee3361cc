; keystone: yes
org 0x7c00
    times 3 nop
    times 2 dw 0x1234
    times 4 db 'ab'
    hlt
