; Lab 0: first.S again, in NASM's dialect (nasm -f bin reads it)
[bits 16]
[org 0x7c00]
        mov dx, 0x3f8
        mov al, 'h'
        out dx, al
        mov al, 'i'
        out dx, al
        mov al, 10
        out dx, al
        mov al, 42
        out 0xf4, al
