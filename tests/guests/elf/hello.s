    .intel_syntax noprefix
    .code16
    .globl _start
_start:
    mov dx, 0x3f8
    mov si, offset msg
next:
    mov al, [si]
    test al, al
    jz done
    out dx, al
    inc si
    jmp next
done:
    mov al, 1
    out 0xf4, al
    hlt
msg: .asciz "Hi\n"
