; bench (32-bit protected mode): the bitwise CRC-32 of rm_crc32.S in EAX
; (SHR, then XOR with 0xEDB88320 when a one fell out) over the same
; 4096-byte message, at 0x100000, SCALE times over; prints the CRC.
.include "flat32.inc"
.set SCALE, 80                  ; times over the message
.set MSG, 0x100000
main32:
    cld
    mov edi, MSG
    xor edx, edx
    mov bl, 5
gen:
    mov eax, edx
    mov al, ah
    add al, bl
    stosb
    add bl, 13
    inc edx
    cmp edx, 4096
    jb gen
    mov eax, 0xffffffff
    mov ebp, SCALE
pass:
    mov esi, MSG
next_byte:
    xor al, [esi]
    mov ecx, 8
bit:
    shr eax, 1
    jnc no_xor
    xor eax, 0xedb88320
no_xor:
    loop bit
    inc esi
    cmp esi, MSG + 4096
    jb next_byte
    dec ebp
    jnz pass
    not eax
    jmp pm_done

.include "pm_out.inc"
