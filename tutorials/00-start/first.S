; Lab 0: the smallest useful guest.  It starts at 0000:7C00 in real mode,
; with no BIOS: everything it prints, it writes to a device itself.
    mov dx, 0x3f8          ; COM1's transmit holding register (THR)
    mov al, 'h'
    out dx, al             ; one port write: the byte goes to the terminal
    mov al, 'i'
    out dx, al
    mov al, 10
    out dx, al
    mov al, 42
    out 0xf4, al           ; isa-debug-exit: the run ends with status (42 << 1) | 1 = 85
