; keystone: yes
org 0x7c00
    cld
    mov si, src
    mov di, dst
    mov cx, len
    rep movsb
    repne scasb
    movsw
    cmpsb
    hlt
src db "copy me"
len equ $ - src
dst times len db 0
