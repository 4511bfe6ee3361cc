; watch.S -- stores, a call and a load of the word at 0x500, for the
; watchpoint tests of the debugger and the gdb stub (tests/debug).
start:
    mov dx, 0x3f8
    mov al, 0x48
    out dx, al
store1:
    mov word ptr [0x500], 0x1234
    call sub
back:
    mov al, 2
    out 0xf4, al
    hlt
sub:
    push bp
    mov bp, sp
store2:
    mov word ptr [0x500], 0x5678
load:
    mov ax, [0x500]
    pop bp
    ret
