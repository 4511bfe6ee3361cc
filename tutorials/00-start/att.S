# Lab 0: first.S in AT&T syntax: the % on registers sends it to GNU as
    mov $0x3f8, %dx
    mov $'h', %al
    out %al, %dx
    mov $'i', %al
    out %al, %dx
    mov $10, %al
    out %al, %dx
    mov $42, %al
    out %al, $0xf4
