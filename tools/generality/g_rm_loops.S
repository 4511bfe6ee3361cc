; measurement guest (real mode): LOOP/JCXZ counted loops, XCHG, CBW/CWD,
; LAHF/SAHF, NEG/NOT/SBB chains, 8-bit MUL/DIV; prints a checksum.
.set SCALE, 4000
.include "rm_entry.inc"
    xor si, si                  ; checksum low
    xor di, di                  ; checksum high
    mov bp, SCALE
outer:
    mov cx, 50
inner:
    mov al, cl
    mov bl, 7
    mul bl                      ; AX = CL * 7
    mov bl, 5
    div bl                      ; AL = q, AH = r
    xchg al, ah
    cbw
    cwd
    add si, ax
    adc di, dx
    mov ax, si
    neg ax
    not ax
    sbb di, ax
    lahf
    xor ah, 0x01
    sahf
    adc si, 0
    xchg si, di
    xchg di, si
    loop inner
    mov cx, bp
    and cx, 3
    jcxz skip
    add si, cx
skip:
    dec bp
    jnz outer
.include "rm_sidi_done.inc"
.include "rm_out.inc"
