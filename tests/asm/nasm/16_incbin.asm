; keystone: yes
org 0x7c00
    mov si, blob
    hlt
blob:
incbin "data.bin"
    db 0xff
