; measurement guest (real mode): ENTER/LEAVE frames, far CALL/RETF, INT to
; a handler and IRET, PUSHF/POPF; prints a checksum.
.set SCALE, 3000
.include "rm_entry.inc"
    mov word ptr [0x80*4], handler
    mov word ptr [0x80*4+2], 0
    xor si, si
    xor di, di
    mov bp, SCALE
outer:
    mov cx, 8
inner:
    push cx
    call near_fn
    .byte 0x9a                  ; call 0:far_fn
    .word far_fn, 0
    int 0x80
    pop cx
    loop inner
    dec bp
    jnz outer
.include "rm_sidi_done.inc"

near_fn:
    enter 4, 0
    mov ax, [bp+4]
    mov [bp-2], ax
    add si, [bp-2]
    leave
    ret

far_fn:
    push bp
    mov bp, sp
    add si, [bp+2]
    adc di, 0
    pop bp
    retf

handler:
    add di, 3
    xor si, di
    iret
.include "rm_out.inc"
