"""Small real-mode guests for the differential tests, as assembly source.

Each prints through the COM1 UART (port 0x3F8) and ends through
isa-debug-exit (port 0xF4), so every engine's output and status compare.
"""

from emu import loader

LOAD = 0x7C00

HELLO = """
    mov dx, 0x3f8
    mov si, msg
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
msg: .byte 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x0a, 0
"""

# arithmetic, stack, far data, a software interrupt through the IVT, string ops
ARITH = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov cx, 10
    xor bx, bx
sum:
    add bx, cx
    loop sum
    mov ax, bx
    mov cl, 3
    shl ax, cl
    mov dx, 0
    mov si, 7
    div si
    push dx
    push ax
    pop di
    pop bp
    int 0x21
    mov si, 0x7e00
    mov di, 0x8000
    mov word ptr [si], 0x4241
    mov word ptr [si+2], 0x0a43
    mov cx, 4
    cld
    rep movsb
    mov si, 0x8000
    mov cx, 4
    mov dx, 0x3f8
print:
    lodsb
    out dx, al
    loop print
    mov ax, 0x1234
    xchg ah, al
    sub ax, 0x3300
    sbb bx, bx
    adc ax, 5
    neg ax
    not bx
    inc bp
    dec di
    cmp ax, bx
    jl less
    mov al, 0x3e
    jmp show
less:
    mov al, 0x3c
show:
    out dx, al
    mov al, 0x0a
    out dx, al
    in al, dx
    mov al, 3
    out 0xf4, al
    hlt
"""


def assemble(src: str, addr: int = LOAD) -> bytes:
    """The project's own loader (16-bit CALL/RET/PUSH imm as in 16-bit code)."""
    return loader.assemble(src, "<test guest>", addr).data
