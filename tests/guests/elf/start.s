    .code16gcc
    .section .text.start
    .globl _start
_start:
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7c00, %esp
    call main
    mov $0, %al
    out %al, $0xf4
    hlt
