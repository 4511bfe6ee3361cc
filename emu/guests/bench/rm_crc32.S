; bench (real mode): bitwise CRC-32 (IEEE 802.3, reflected, polynomial
; 0xEDB88320) in a DX:AX register pair -- SHR/RCR, then XOR with the
; polynomial when a one fell out -- over a 4096-byte message at 0x1000:0,
; msg[i] = 13 * i + 5 + (i >> 8) (mod 256), SCALE times over; prints the CRC.
.set SCALE, 64                  ; times over the message
.include "rm_entry.inc"
    mov ax, 0x1000
    mov es, ax
    mov ds, ax
    xor di, di
    mov bl, 5
gen:
    mov ax, di
    mov al, ah
    add al, bl
    stosb
    add bl, 13
    cmp di, 4096
    jb gen
    mov ax, 0xffff
    mov dx, ax
    mov bp, SCALE
pass:
    xor si, si
next_byte:
    xor al, [si]
    mov cx, 8
bit:
    shr dx, 1
    rcr ax, 1
    jnc no_xor
    xor ax, 0x8320
    xor dx, 0xedb8
no_xor:
    loop bit
    inc si
    cmp si, 4096
    jb next_byte
    dec bp
    jnz pass
    not ax
    not dx
    jmp rm_done

.include "rm_out.inc"
