; measurement guest (real mode): critical sections -- PUSHF/CLI ... POPF and
; CLI ... STI around a queue update -- a far JMP into code reached under
; another CS (07C0:xxxx) and back, and an INT to a handler whose IVT entry
; names CS = 07C0; prints a checksum (the queue head is at 0:0600, away
; from the code).
.set SCALE, 4000
.include "rm_entry.inc"
    mov word ptr [0x81*4], service - 0x7c00
    mov word ptr [0x81*4+2], 0x07c0
    xor si, si
    xor di, di
    mov bp, SCALE
outer:
    mov cx, 6
inner:
    pushf
    cli
    mov bx, [0x600]
    add bx, cx
    and bx, 15
    mov [0x600], bx
    add si, bx
    popf
    cli
    xor di, si
    sti
    add di, cx
    .byte 0xea                  ; jmp 07C0:hop
    .word hop - 0x7c00, 0x07c0
hop_back:
    int 0x81
    loop inner
    dec bp
    jnz outer
.include "rm_sidi_done.inc"

hop:                            ; runs with CS = 07C0
    rol si, 1
    adc di, 0
    .byte 0xea                  ; jmp 0000:hop_back
    .word hop_back, 0

service:                        ; INT 0x81, CS = 07C0
    add si, 5
    xor di, 0x1234
    iret

.include "rm_out.inc"
