; keystone: yes
; print the hex value in dx (a routine from boot-sector tutorials)
[org 0x7c00]
    mov dx, 0x1fb6
    call print_hex
    jmp $
print_hex:
    pusha
    mov cx, 0
hex_loop:
    cmp cx, 4
    je end
    mov ax, dx
    and ax, 0x000f
    add al, 0x30
    cmp al, 0x39
    jle step2
    add al, 7
step2:
    mov bx, HEX_OUT + 5
    sub bx, cx
    mov [bx], al
    ror dx, 4
    add cx, 1
    jmp hex_loop
end:
    mov bx, HEX_OUT
    call print
    popa
    ret
print:
    pusha
.loop:
    mov al, [bx]
    cmp al, 0
    je .done
    mov ah, 0x0e
    int 0x10
    add bx, 1
    jmp .loop
.done:
    popa
    ret
HEX_OUT: db '0x0000', 0
times 510-($-$$) db 0
dw 0xaa55
