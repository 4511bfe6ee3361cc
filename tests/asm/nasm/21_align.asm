; keystone: yes
org 0x7c00
    nop
align 4
    hlt
alignb 8
data dd 1
