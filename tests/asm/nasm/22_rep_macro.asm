; keystone: refused
org 0x7c00
%assign i 0
%rep 4
    db i
%assign i i+1
%endrep
