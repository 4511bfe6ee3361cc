; keystone: yes
; the classic: print a string with the BIOS teletype, then hang
[bits 16]
[org 0x7c00]
start:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov si, msg
.print:
    lodsb
    or al, al
    jz .hang
    mov ah, 0x0e
    mov bh, 0
    int 0x10
    jmp .print
.hang:
    jmp $
msg db "Hello, world!", 13, 10, 0
times 510-($-$$) db 0
dw 0xAA55
