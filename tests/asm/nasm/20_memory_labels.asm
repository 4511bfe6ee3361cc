; keystone: yes
; memory operands on labels: 16-bit addresses ([disp16]), no 0x67
org 0x7c00
    inc word [counter]
    mov byte [flag], 1
    lea si, [table]
    mov ax, [table + 2]
    add [counter], ax
    cmp byte [flag], 0
    lgdt [gdt_desc]
    hlt
counter dw 0
flag    db 0
table   dw 1, 2, 3
gdt_desc dw 0, 0, 0
