; keystone: yes
; load dh sectors to es:bx from drive dl
[org 0x7c00]
    mov [BOOT_DRIVE], dl
    mov bx, 0x9000
    mov dh, 2
    mov dl, [BOOT_DRIVE]
    call disk_load
    jmp $
disk_load:
    push dx
    mov ah, 0x02
    mov al, dh
    mov ch, 0x00
    mov dh, 0x00
    mov cl, 0x02
    int 0x13
    jc disk_error
    pop dx
    cmp dh, al
    jne disk_error
    ret
disk_error:
    mov ah, 0x0e
    mov al, 'E'
    int 0x10
    jmp $
BOOT_DRIVE: db 0
times 510-($-$$) db 0
dw 0xaa55
times 256 dw 0xdada
times 256 dw 0xface
