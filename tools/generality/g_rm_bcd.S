; measurement guest (real mode): BCD counting with DAA and printing digits
; with AAM/AAD into a buffer; prints a checksum.
.set SCALE, 6000
.include "rm_entry.inc"
    xor si, si
    xor di, di
    mov bp, SCALE
    xor bx, bx                  ; packed BCD counter in BL
outer:
    mov al, bl
    add al, 7
    daa
    mov bl, al
    adc di, 0
    mov cx, 6
digits:
    mov al, cl
    add al, bl
    and al, 0x7f
    aam                         ; AH = AL / 10, AL = AL % 10
    add si, ax
    aad                         ; back to binary
    add si, ax
    mov al, bh
    sub al, cl
    das
    mov bh, al
    loop digits
    dec bp
    jnz outer
.include "rm_sidi_done.inc"
.include "rm_out.inc"
